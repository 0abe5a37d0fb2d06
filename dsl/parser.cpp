#include "dsl/parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace starc {
namespace {

constexpr int kMaxNesting = 400;       // deeper expressions are rejected instead of overflowing the stack
constexpr int kMaxBlockNesting = 200;  // and so are deeper blocks (if/for/fn bodies)

class Parser {
 public:
  Parser(std::vector<Token> toks, DiagEngine& d) : t_(std::move(toks)), diags_(d) {}

  Module module(int file, const std::string& path) {
    Module m;
    m.file = file;
    m.path = path;
    for (auto& d : diags_.all())
      if (d.loc.file == file) lex_error_lines_.insert({file, diags_.sources().line_col(d.loc).first});
    while (!at(Tok::Eof)) {
      if (accept(Tok::Newline) || accept(Tok::Semicolon)) continue;
      try {
        if (at(Tok::KwUse))
          m.uses.push_back(use());
        else if (at(Tok::KwFn) || at(Tok::KwModel))
          m.decls.push_back(fn_decl());
        else if (at(Tok::Ident) && peek().text == "train" &&
                 (peek(1).kind == Tok::Ident || peek(1).kind == Tok::LBrace || peek(1).kind == Tok::LParen))
          m.trains.push_back(train_decl());
        else
          throw err(peek(), fmt::format("expected 'fn', 'model' or 'use' at top level, found {}", describe(peek())));
      } catch (const CompileError& e) {
        report(e.diag);
        if (diags_.count() > 50) return m;
        skip_to_top_level();
      }
    }
    return m;
  }

 private:
  std::vector<Token> t_;
  size_t p_ = 0;
  DiagEngine& diags_;
  int nesting_ = 0;
  std::set<std::pair<int, int>> lex_error_lines_;  // (file, line) of the lexer's errors
  int block_nesting_ = 0;
  std::vector<SrcLoc> open_;  // enclosing '(' and '[' (innermost last)

  const Token& peek(int k = 0) const { return t_[std::min(p_ + k, t_.size() - 1)]; }
  bool at(Tok k) const { return peek().kind == k; }
  // Skips line ends only when `k` follows them: inside a declaration header a newline does
  // not end anything, but elsewhere it still ends the statement.
  void skip_newlines_before(Tok k) {
    size_t q = p_;
    while (q < t_.size() && t_[q].kind == Tok::Newline) ++q;
    if (q < t_.size() && t_[q].kind == k) p_ = q;
  }
  bool accept(Tok k) {
    if (!at(k)) return false;
    ++p_;
    return true;
  }
  const Token& next() {
    const Token& tk = t_[p_];
    if (p_ + 1 < t_.size()) ++p_;
    return tk;
  }
  static std::string describe(const Token& tk) {
    if (tk.kind == Tok::Ident) return fmt::format("identifier '{}'", tk.text);
    if (tk.kind == Tok::Int || tk.kind == Tok::Float) return fmt::format("number {}", tk.text);
    if (tk.kind == Tok::String) return "a string";
    return tok_name(tk.kind);
  }
  // Records a syntax error, unless the lexer already reported one on that line: what
  // follows a bad character or a broken token is usually a consequence, not a new error.
  void report(const Diagnostic& d) {
    if (d.loc.known() && lex_error_lines_.count({d.loc.file, diags_.sources().line_col(d.loc).first})) return;
    diags_.add(d);
  }
  CompileError err(const Token& tk, std::string msg) {
    Diagnostic d{tk.loc, std::move(msg), {}};
    static const Tok kStatementStart[] = {Tok::KwReturn, Tok::KwFn,   Tok::KwModel, Tok::KwParam, Tok::KwState,
                                          Tok::KwLet,    Tok::KwFor,  Tok::KwIf,    Tok::KwElse,  Tok::KwUse,
                                          Tok::KwAssert, Tok::LBrace, Tok::RBrace,  Tok::Eof};
    if (!open_.empty() && tk.loc.known() &&
        std::find(std::begin(kStatementStart), std::end(kStatementStart), tk.kind) != std::end(kStatementStart)) {
      const SourceManager& sm = diags_.sources();
      const SrcLoc& open = open_.back();
      if (sm.line_col(tk.loc).first > sm.line_col(open).first)
        d.notes.emplace_back(open,
                             fmt::format("this '{}' is never closed", sm.file(open.file).text.substr(open.offset, 1)));
    }
    return CompileError(std::move(d));
  }
  const Token& expect(Tok k, const char* context) {
    if (!at(k)) throw err(peek(), fmt::format("expected {} {}, found {}", tok_name(k), context, describe(peek())));
    return next();
  }
  std::string ident(const char* context) { return expect(Tok::Ident, context).text; }

  void skip_to_top_level() {
    int depth = 0;
    while (!at(Tok::Eof)) {
      if (depth == 0 && (at(Tok::KwFn) || at(Tok::KwModel) || at(Tok::KwUse) || train_ahead()) &&
          (p_ == 0 || t_[p_ - 1].kind == Tok::Newline || t_[p_ - 1].kind == Tok::RBrace))
        return;
      if (at(Tok::LBrace)) ++depth;
      if (at(Tok::RBrace)) depth = std::max(0, depth - 1);
      next();
    }
  }
  // Skips the rest of a broken statement: to the end of its line, or to the '}' closing the block.
  void skip_statement() {
    int depth = 0;
    while (!at(Tok::Eof)) {
      if (depth == 0 && at(Tok::Newline)) return;
      if (depth == 0 && at(Tok::RBrace)) return;
      if (at(Tok::LBrace)) ++depth;
      if (at(Tok::RBrace)) --depth;
      next();
    }
  }

  UseDecl use() {
    UseDecl u;
    u.loc = next().loc;
    const Token& first = expect(Tok::Ident, "after 'use' (a module name like std.nn)");
    u.path.push_back(first.text);
    SrcLoc end = first.loc;
    while (accept(Tok::Dot)) {
      const Token& part = expect(Tok::Ident, "in module name");
      u.path.push_back(part.text);
      end = part.loc;
    }
    u.loc = SourceManager::span(first.loc, end);
    end_of_statement();
    return u;
  }

  void end_of_statement() {
    if (accept(Tok::Newline) || accept(Tok::Semicolon) || at(Tok::RBrace) || at(Tok::Eof)) return;
    throw err(peek(), fmt::format("expected end of line, found {}", describe(peek())));
  }

  TypeExpr type_expr(const char* context) {
    TypeExpr ty;
    ty.loc = peek().loc;
    if (accept(Tok::KwFn)) {
      ty.name = "fn";
      return ty;
    }
    if (at(Tok::Ident)) {
      ty.name = next().text;
      if (!at(Tok::LBracket)) return ty;
    } else if (!at(Tok::LBracket)) {
      throw err(peek(),
                fmt::format("expected a type {} (e.g. f32[B, 16], int, float), found {}", context, describe(peek())));
    }
    ty.is_tensor = true;
    Open open(*this, next());
    while (!at(Tok::RBracket)) {
      ty.dims.push_back(expr());
      if (!accept(Tok::Comma)) break;
    }
    SrcLoc close = expect(Tok::RBracket, "to close the shape").loc;
    ty.loc = SourceManager::span(ty.loc, close);
    return ty;
  }

  std::vector<Param> params() {
    std::vector<Param> ps;
    Open open(*this, expect(Tok::LParen, "to start the parameter list"));
    while (!at(Tok::RParen)) {
      Param p;
      const Token& name = expect(Tok::Ident, "(a parameter name)");
      p.name = name.text;
      p.loc = name.loc;
      if (accept(Tok::Colon)) p.type = type_expr("for the parameter");
      if (accept(Tok::Assign)) p.default_value = expr();
      for (auto& q : ps)
        if (q.name == p.name) {
          auto [line, col] = diags_.sources().line_col(q.loc);
          throw CompileError(
              Diagnostic{p.loc,
                         fmt::format("parameter '{}' is declared twice (first at line {})", p.name, line),
                         {{q.loc, "first declared here"}}});
        }
      ps.push_back(std::move(p));
      if (!accept(Tok::Comma)) break;
    }
    expect(Tok::RParen, "to close the parameter list");
    return ps;
  }

  std::shared_ptr<FnDecl> fn_decl() {
    auto f = std::make_shared<FnDecl>();
    f->is_model = next().kind == Tok::KwModel;
    const Token& name = expect(Tok::Ident, f->is_model ? "after 'model'" : "after 'fn'");
    f->name = name.text;
    f->loc = name.loc;
    f->params = params();
    // A long header may continue on the next line: `model M(...)` / `-> (...)` / `{`.
    skip_newlines_before(Tok::Arrow);
    if (accept(Tok::Arrow)) {
      f->outputs_loc = peek().loc;
      if (at(Tok::LParen)) {
        Open open(*this, next());
        std::map<std::string, SrcLoc> named;
        while (!at(Tok::RParen)) {
          std::string oname;
          if (at(Tok::Ident) && peek(1).kind == Tok::Colon) {
            const Token& n = next();
            oname = n.text;
            if (auto it = named.find(oname); it != named.end())
              throw CompileError(Diagnostic{
                  n.loc, fmt::format("output '{}' is declared twice", oname), {{it->second, "first declared here"}}});
            named[oname] = n.loc;
            next();
          }
          f->outputs.emplace_back(oname, type_expr("for the output"));
          if (!accept(Tok::Comma)) break;
        }
        expect(Tok::RParen, "to close the output list");
      } else {
        f->outputs.emplace_back("", type_expr("for the output"));
      }
    }
    if (f->is_model && f->outputs.empty())
      throw err(peek(), fmt::format("model '{}' needs a declared output type: model {}(...) -> f32[B, 1] {{ ... }}",
                                    f->name, f->name));
    skip_newlines_before(Tok::LBrace);
    f->body = block();
    return f;
  }

  // `train` and `step` are contextual keywords: `train NAME(`/`train NAME {` at top level,
  // `step NAME(`/`step NAME {` in a train block (elsewhere they are ordinary names).
  bool train_ahead() const { return contextual_ahead("train"); }
  bool contextual_ahead(const char* word) const {
    return at(Tok::Ident) && peek().text == word && peek(1).kind == Tok::Ident &&
           (peek(2).kind == Tok::LParen || peek(2).kind == Tok::LBrace);
  }

  // train MODEL(extra: f32[B, 1], ...) { statements; step NAME(params: "p.") { ... } }
  std::shared_ptr<TrainDecl> train_decl() {
    auto t = std::make_shared<TrainDecl>();
    t->kw_loc = next().loc;
    const Token& name = expect(Tok::Ident, "after 'train' (the name of the model to train)");
    t->model = name.text;
    t->loc = name.loc;
    if (at(Tok::LParen)) t->params = params();
    Depth depth(*this, peek(), /*block=*/true);
    const Token& open = expect(Tok::LBrace, "to start the train block");
    std::map<std::string, SrcLoc> step_names;
    while (true) {
      while (accept(Tok::Newline) || accept(Tok::Semicolon)) {}
      if (at(Tok::RBrace) || at(Tok::Eof)) break;
      try {
        if (contextual_ahead("step")) {
          TrainStep st;
          next();
          const Token& sn = next();
          st.name = sn.text;
          st.loc = sn.loc;
          if (auto it = step_names.find(st.name); it != step_names.end())
            throw CompileError(Diagnostic{st.loc,
                                          fmt::format("step '{}' is defined twice in this train block", st.name),
                                          {{it->second, "first defined here"}}});
          step_names[st.name] = st.loc;
          if (at(Tok::LParen)) {
            Open o(*this, next());
            while (!at(Tok::RParen)) {
              Arg a;
              const Token& an = expect(Tok::Ident, "(a step argument, e.g. params: \"disc.\")");
              a.name = an.text;
              a.name_loc = an.loc;
              expect(Tok::Colon, "after the step argument's name");
              a.value = expr();
              st.args.push_back(std::move(a));
              if (!accept(Tok::Comma)) break;
            }
            expect(Tok::RParen, "to close the step arguments");
          }
          st.body = block();
          t->steps.push_back(std::move(st));
          end_of_statement();
          continue;
        }
        t->body.push_back(statement());
        end_of_statement();
      } catch (const CompileError& e) {
        report(e.diag);
        if (diags_.count() > 50) throw;
        skip_statement();
      }
    }
    if (at(Tok::Eof)) {
      CompileError e = err(peek(), "expected '}' to close the train block, found end of file");
      e.diag.notes.emplace_back(open.loc, "the train block opened here is never closed");
      throw e;
    }
    expect(Tok::RBrace, "to close the train block");
    return t;
  }

  Block block() {
    Depth depth(*this, peek(), /*block=*/true);
    const Token& open = expect(Tok::LBrace, "to start a block");
    Block b;
    while (true) {
      while (accept(Tok::Newline) || accept(Tok::Semicolon)) {}
      if (at(Tok::RBrace) || at(Tok::Eof)) break;
      try {
        b.push_back(statement());
        end_of_statement();
      } catch (const CompileError& e) {
        report(e.diag);
        if (diags_.count() > 50) throw;
        skip_statement();
      }
    }
    if (at(Tok::Eof)) {
      CompileError e = err(peek(), "expected '}' to close the block, found end of file");
      e.diag.notes.emplace_back(open.loc, "the block opened here is never closed");
      throw e;
    }
    expect(Tok::RBrace, "to close the block");
    return b;
  }

  bool assignment_ahead() const {
    if (peek().kind == Tok::Ident && peek(1).kind == Tok::Assign) return true;
    if (peek().kind != Tok::LParen) return false;
    size_t k = 1;  // (a, b) = ...
    while (peek(k).kind == Tok::Ident && peek(k + 1).kind == Tok::Comma) k += 2;
    return peek(k).kind == Tok::Ident && peek(k + 1).kind == Tok::RParen && peek(k + 2).kind == Tok::Assign;
  }

  StmtP statement() {
    auto s = std::make_unique<Stmt>();
    s->loc = peek().loc;
    switch (peek().kind) {
      case Tok::KwLet:
        next();
        s->is_let = true;
        if (!assignment_ahead()) throw err(peek(), "expected a name (or (a, b)) and '=' after 'let'");
        [[fallthrough]];
      case Tok::Ident:
      case Tok::LParen:
        if (s->is_let || assignment_ahead()) {
          s->kind = Stmt::Assign;
          if (accept(Tok::LParen)) {
            do {
              const Token& n = expect(Tok::Ident, "in the assignment target");
              s->targets.emplace_back(n.text, n.loc);
            } while (accept(Tok::Comma));
            expect(Tok::RParen, "after the assignment targets");
          } else {
            const Token& n = next();
            s->targets.emplace_back(n.text, n.loc);
          }
          expect(Tok::Assign, "in assignment");
          s->value = expr();
          return s;
        }
        break;
      case Tok::KwParam:
      case Tok::KwState: {
        s->kind = Stmt::ParamDecl;
        s->trainable = next().kind == Tok::KwParam;
        const Token& n = expect(Tok::Ident, "(the parameter name)");
        s->name = n.text;
        s->loc = n.loc;
        expect(Tok::Colon, "and a shape after the parameter name, e.g. param w: [out, in] = he_uniform");
        s->type = type_expr("for the parameter");
        if (!s->type->is_tensor)
          throw CompileError(s->type->loc, fmt::format("a parameter needs a shape, e.g. {} {}: [out, in], not '{}'",
                                                       s->trainable ? "param" : "state", s->name, s->type->name));
        if (accept(Tok::Assign)) s->value = expr();
        return s;
      }
      case Tok::KwReturn:
        next();
        s->kind = Stmt::Return;
        if (!at(Tok::Newline) && !at(Tok::RBrace) && !at(Tok::Semicolon)) s->value = expr();
        return s;
      case Tok::KwFor: {
        next();
        s->kind = Stmt::For;
        const Token& v = expect(Tok::Ident, "(the loop variable) after 'for'");
        s->targets.emplace_back(v.text, v.loc);
        expect(Tok::KwIn, "after the loop variable");
        s->value = expr();
        if (accept(Tok::DotDot)) s->value2 = expr();
        s->body = block();
        return s;
      }
      case Tok::KwIf:
        return if_stmt();
      case Tok::KwFn: {
        s->kind = Stmt::FnDef;
        s->fn = fn_decl();
        return s;
      }
      case Tok::KwModel:
        throw err(peek(), "a model can only be defined at top level");
      case Tok::KwUse:
        throw err(peek(), "'use' is only allowed at top level");
      case Tok::KwElse:
        throw err(peek(), "'else' without 'if': write it on the line of the '}' that closes the if block ('} else {')");
      case Tok::KwAssert:
        next();
        s->kind = Stmt::Assert;
        s->value = expr();
        if (accept(Tok::Comma)) s->value2 = expr();
        return s;
      default:
        break;
    }
    s->kind = Stmt::ExprStmt;
    s->value = expr();
    return s;
  }

  StmtP if_stmt() {
    Depth depth(*this, peek(), /*block=*/true);
    auto s = std::make_unique<Stmt>();
    s->loc = next().loc;
    s->kind = Stmt::If;
    s->value = expr();
    s->body = block();
    if (accept(Tok::KwElse)) {
      if (at(Tok::KwIf))
        s->else_body.push_back(if_stmt());
      else
        s->else_body = block();
    }
    return s;
  }

  // ---- expressions ----
  // Bounds the recursion of the parser (and of every later pass over the tree).
  struct Depth {
    int& n;
    Depth(Parser& p, const Token& tk, bool block = false) : n(block ? p.block_nesting_ : p.nesting_) {
      int limit = block ? kMaxBlockNesting : kMaxNesting;
      if (n >= limit)
        throw p.err(tk, fmt::format("{} nested too deeply (more than {} levels)",
                                    block ? "blocks are" : "expression is", limit));
      ++n;
    }
    ~Depth() { --n; }
  };
  // A chain `a + b + c ...`, `x |> f |> g ...` or `x[0][1]...` builds a left-nested tree that is
  // one level deeper per link, although the parser loops over it: count those levels too.
  struct Chain {
    Parser& p;
    int n = 0;
    explicit Chain(Parser& p) : p(p) {}
    void link(const Token& tk) {
      if (p.nesting_ >= kMaxNesting)
        throw p.err(tk, fmt::format("expression is nested too deeply (more than {} levels; split a long chain of "
                                    "operators or calls over several statements)",
                                    kMaxNesting));
      ++p.nesting_, ++n;
    }
    ~Chain() { p.nesting_ -= n; }
  };
  // An open '(' or '[': an error that finds a statement keyword on a later line inside it
  // is almost always a missing closer, so the error gets a note pointing at the opener.
  struct Open {
    Parser& p;
    Open(Parser& p, const Token& tk) : p(p) { p.open_.push_back(tk.loc); }
    ~Open() { p.open_.pop_back(); }
  };

  ExprP make(Expr::Kind k, SrcLoc loc) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->loc = loc;
    return e;
  }

  ExprP expr() {
    Depth d(*this, peek());
    if (at(Tok::Bar)) return lambda();
    ExprP lhs = binary(0);
    Chain chain(*this);
    while (at(Tok::Pipe)) {
      chain.link(next());
      ExprP rhs = postfix();
      SrcLoc loc = SourceManager::span(lhs->loc, rhs->loc);
      if (rhs->kind == Expr::Call) {
        rhs->args.insert(rhs->args.begin(), Arg{"", {}, std::move(lhs)});
        rhs->loc = loc;
        lhs = std::move(rhs);
      } else {
        auto call = make(Expr::Call, loc);
        call->items.push_back(std::move(rhs));
        call->args.push_back(Arg{"", {}, std::move(lhs)});
        lhs = std::move(call);
      }
    }
    return lhs;
  }

  ExprP lambda() {
    auto e = make(Expr::Lambda, next().loc);
    while (!at(Tok::Bar)) {
      const Token& n = expect(Tok::Ident, "(a lambda parameter)");
      e->lambda_params.emplace_back(n.text, n.loc);
      if (!accept(Tok::Comma)) break;
    }
    expect(Tok::Bar, "to close the lambda parameters");
    e->items.push_back(expr());
    e->loc = SourceManager::span(e->loc, e->items[0]->loc);
    return e;
  }

  static int precedence(Tok k) {
    switch (k) {
      case Tok::KwOr:
        return 1;
      case Tok::KwAnd:
        return 2;
      case Tok::Eq:
      case Tok::Ne:
      case Tok::Lt:
      case Tok::Le:
      case Tok::Gt:
      case Tok::Ge:
        return 4;
      case Tok::Plus:
      case Tok::Minus:
        return 5;
      case Tok::Star:
      case Tok::Slash:
      case Tok::Percent:
      case Tok::At:
        return 6;
      default:
        return -1;
    }
  }

  ExprP binary(int min_prec) {
    ExprP lhs = unary();
    Chain chain(*this);
    while (true) {
      int prec = precedence(peek().kind);
      if (prec < 0 || prec < min_prec) break;
      const Token& op = next();
      chain.link(op);
      Depth d(*this, op);
      ExprP rhs = binary(prec + 1);
      auto e = make(Expr::Binary, SourceManager::span(lhs->loc, rhs->loc));
      e->name = op.kind == Tok::KwAnd  ? "and"
                : op.kind == Tok::KwOr ? "or"
                                       : tok_name(op.kind).substr(1, tok_name(op.kind).size() - 2);
      e->items.push_back(std::move(lhs));
      e->items.push_back(std::move(rhs));
      lhs = std::move(e);
    }
    return lhs;
  }

  ExprP unary() {
    if (at(Tok::Minus) || at(Tok::KwNot)) {
      const Token& op = next();
      Depth d(*this, op);
      ExprP a = op.kind == Tok::KwNot ? binary(3) : unary();
      auto e = make(Expr::Unary, SourceManager::span(op.loc, a->loc));
      e->name = op.kind == Tok::Minus ? "-" : "not";
      e->items.push_back(std::move(a));
      return e;
    }
    return power();
  }

  ExprP power() {
    ExprP base = postfix();
    if (at(Tok::StarStar)) {
      const Token& op = next();
      Depth d(*this, op);
      ExprP ex = unary();  // right-associative, binds tighter than unary minus on the left
      auto e = make(Expr::Binary, SourceManager::span(base->loc, ex->loc));
      e->name = "**";
      e->items.push_back(std::move(base));
      e->items.push_back(std::move(ex));
      return e;
    }
    return base;
  }

  ExprP postfix() {
    ExprP e = primary();
    Chain chain(*this);
    while (true) {
      if (at(Tok::LParen) || at(Tok::LBracket) || at(Tok::Dot)) chain.link(peek());
      if (at(Tok::LParen)) {
        Open open(*this, next());
        auto call = make(Expr::Call, e->loc);
        call->items.push_back(std::move(e));
        while (!at(Tok::RParen)) {
          Arg a;
          if (at(Tok::Ident) && peek(1).kind == Tok::Colon) {
            a.name = peek().text;
            a.name_loc = next().loc;
            next();
          }
          a.value = expr();
          call->args.push_back(std::move(a));
          if (!accept(Tok::Comma)) break;
        }
        SrcLoc close = expect(Tok::RParen, "to close the argument list").loc;
        call->loc = SourceManager::span(call->loc, close);
        if (accept(Tok::KwAs)) {
          const Token& n = expect(Tok::Ident, "after 'as' (a name for this layer's parameters)");
          call->as_name = n.text;
          call->as_loc = n.loc;
        }
        e = std::move(call);
      } else if (at(Tok::LBracket)) {
        Open open(*this, next());
        auto ix = make(Expr::Index, e->loc);
        ix->items.push_back(std::move(e));
        while (!at(Tok::RBracket)) {
          IndexItem it;
          it.loc = peek().loc;
          if (!at(Tok::Colon)) it.index = expr();
          if (accept(Tok::Colon)) {
            it.is_slice = true;
            it.start = std::move(it.index);
            if (!at(Tok::Colon) && !at(Tok::Comma) && !at(Tok::RBracket)) it.end = expr();
            if (accept(Tok::Colon) && !at(Tok::Comma) && !at(Tok::RBracket)) it.step = expr();
          }
          if (p_ > 0) it.loc = SourceManager::span(it.loc, t_[p_ - 1].loc);  // the whole item, e.g. `2:5`
          ix->index.push_back(std::move(it));
          if (!accept(Tok::Comma)) break;
        }
        SrcLoc close = expect(Tok::RBracket, "to close the index").loc;
        ix->loc = SourceManager::span(ix->loc, close);
        e = std::move(ix);
      } else if (at(Tok::Dot)) {
        next();
        const Token& f = expect(Tok::Ident, "after '.'");
        auto m = make(Expr::Member, SourceManager::span(e->loc, f.loc));
        m->name = f.text;
        m->items.push_back(std::move(e));
        e = std::move(m);
      } else {
        return e;
      }
    }
  }

  ExprP primary() {
    const Token& tk = peek();
    Depth d(*this, tk);
    switch (tk.kind) {
      case Tok::Int: {
        auto e = make(Expr::Int, tk.loc);
        e->ival = next().ival;
        return e;
      }
      case Tok::Float: {
        auto e = make(Expr::Float, tk.loc);
        e->fval = next().fval;
        return e;
      }
      case Tok::String: {
        auto e = make(Expr::Str, tk.loc);
        e->name = next().text;
        return e;
      }
      case Tok::KwTrue:
      case Tok::KwFalse: {
        auto e = make(Expr::Bool, tk.loc);
        e->bval = next().kind == Tok::KwTrue;
        return e;
      }
      case Tok::Ident: {
        auto e = make(Expr::Name, tk.loc);
        e->name = next().text;
        return e;
      }
      case Tok::LParen: {
        Open opened(*this, peek());
        SrcLoc open = next().loc;
        std::vector<ExprP> items;
        bool trailing_comma = false;
        while (!at(Tok::RParen)) {
          items.push_back(expr());
          trailing_comma = false;
          if (!accept(Tok::Comma)) break;
          trailing_comma = true;
        }
        SrcLoc close = expect(Tok::RParen, "to close the parenthesis").loc;
        if (items.size() == 1 && !trailing_comma) return std::move(items[0]);
        auto e = make(Expr::Tuple, SourceManager::span(open, close));
        e->items = std::move(items);
        return e;
      }
      case Tok::LBracket: {
        Open opened(*this, peek());
        SrcLoc open = next().loc;
        auto e = make(Expr::List, open);
        while (!at(Tok::RBracket)) {
          e->items.push_back(expr());
          if (!accept(Tok::Comma)) break;
        }
        e->loc = SourceManager::span(open, expect(Tok::RBracket, "to close the list").loc);
        return e;
      }
      default:
        throw err(tk, fmt::format("expected an expression, found {}", describe(tk)));
    }
  }
};

}  // namespace

Module parse_module(int file, const std::string& path, std::vector<Token> tokens, DiagEngine& diags) {
  Parser p(std::move(tokens), diags);
  try {
    return p.module(file, path);
  } catch (const CompileError& e) {  // too many errors
    return Module{path, file, {}, {}, {}};
  }
}

}  // namespace starc
