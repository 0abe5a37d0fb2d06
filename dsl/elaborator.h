// dsl: the Elaborator, which runs a model's body once, symbolically, producing its Graph
// (see dsl/elaborate.cpp). Internal to dsl/. Its member functions are defined by concern:
//   dsl/elaborate.cpp           entry points (a model, a train block) and the helpers that
//                               turn values into graph nodes
//   dsl/elaborate_eval.cpp      statements and expressions
//   dsl/elaborate_call.cpp      calls (primitive ops, functions, layers, lambdas), parameter
//                               scopes and `param` declarations with their initializers
//   dsl/elaborate_builtins.cpp  builtins: zeros/ones/full, len, int/float, print, scan, grad,
//                               assign, metric, optimizers and schedules
//   dsl/elaborate_shape_builtins.cpp  builtins that are sugar over ops: clamp, masked_fill,
//                               expand_dims/unsqueeze, squeeze, stack, split, chunk, repeat, tile
//   dsl/elaborate_types.cpp     type annotations and shape checking
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "dsl/program.h"
#include "dsl/train.h"
#include "dsl/value.h"

namespace starc {

// What a value is, in words ("int", "tensor", "function", ...), for messages.
const char* kind_name(const Value& v);

// Initializers a `param` may name, with their argument names (dsl/elaborate_call.cpp).
extern const std::map<std::string, std::vector<std::string>> kInits;
// Functions every program can call (dsl/elaborate_builtins.cpp).
extern const std::vector<std::string> kBuiltinFns;
// Whether `name` is one of the builtins of dsl/elaborate_shape_builtins.cpp.
bool is_shape_builtin(const std::string& name);

// Thrown by `return`; caught by the call (or the model) whose body it ends.
struct ReturnSignal {
  Value value;
};

class Elaborator {
  friend struct ShapeBuiltins;  // dsl/elaborate_shape_builtins.cpp

 public:
  Elaborator(Program& prog, const BuildOptions& opts) : prog_(prog), diags_(prog.diags()), opts_(opts) {}
  ~Elaborator();
  Elaborator(const Elaborator&) = delete;
  Elaborator& operator=(const Elaborator&) = delete;

  std::optional<Graph> build(const FnDecl& model);
  TrainElab build_train(const FnDecl& model, const TrainDecl& td, const TrainStep* step);

 private:
  Program& prog_;
  DiagEngine& diags_;
  BuildOptions opts_;
  GraphCtx* root_ = nullptr;
  GraphCtx* cur_ = nullptr;
  DType default_float_ = DType::F32;
  bool default_float_set_ = false;
  std::vector<std::string> path_;        // dotted parameter scope
  std::map<std::string, int> counters_;  // "<path>/<fn>" -> calls so far
  std::vector<const FnDecl*> call_stack_;
  int call_depth_ = 0;  // calls in progress, lambdas included
  // Every scope made: a function's scope holds its closures, whose environment is that
  // scope (a shared_ptr cycle), so the destructor clears them all to free them.
  std::vector<std::weak_ptr<Scope>> scopes_;
  size_t prune_scopes_at_ = 1024;  // drop the expired ones when there are this many
  std::shared_ptr<Scope> new_scope();
  int64_t steps_ = 0;  // elaboration work so far (expressions evaluated, list items built)
  // The call that opened each parameter scope of path_ (for "declared twice" errors).
  struct Site {
    SrcLoc loc;
    int64_t id;  // distinct for every call
  };
  std::vector<Site> sites_;
  int64_t next_site_ = 0;
  struct ParamSeen {
    SrcLoc decl;
    std::vector<Site> sites;
  };
  std::map<std::string, ParamSeen> param_names_;
  std::map<int, std::shared_ptr<Scope>> module_scopes_;
  const SrcLoc* return_loc_ = nullptr;
  const Expr* return_expr_ = nullptr;  // the value of the last executed `return`
  // Training (build_train): the train block's scope, what its statements recorded.
  bool in_train_ = false;
  Scope* train_scope_ = nullptr;
  std::map<std::string, SrcLoc> assigned_at_;  // train-scope variable -> its last assigned expression
  std::vector<TrainElab::Metric> metrics_;
  std::vector<TrainElab::StateUpdate> state_updates_;

  struct Args {
    std::vector<std::pair<Value, SrcLoc>> pos;
    std::vector<std::tuple<std::string, Value, SrcLoc>> named;
  };

  // ---------------------------------------------------------------- entry points (elaborate.cpp)
  std::shared_ptr<Scope> model_inputs(const FnDecl& model);
  std::vector<Value> run_model(const FnDecl& model, std::shared_ptr<Scope> scope);

  // ---------------------------------------------------------------- helpers (elaborate.cpp)
  Loc graph_loc(SrcLoc l) const;
  Value add_graph_input(GraphCtx& root, const std::string& name, const TensorType& t, SrcLoc loc);
  std::shared_ptr<Scope> module_scope_for(int module);
  std::string tstr(const TensorType& t) const { return type_str(t, &root_->g.symbols); }
  const TensorType& type_of(const Value& v) const { return v.g->g.type(v.id); }
  std::string describe(const Value& v) const;
  int use(const Value& v);
  int use_in(GraphCtx* ctx, const Value& v);
  Value emit(const OpDef* op, const std::vector<Value>& tensor_args, Attrs attrs, SrcLoc loc);
  Value emit(const char* op, const std::vector<Value>& args, Attrs attrs, SrcLoc loc);
  Value tensor_builtin(Args& args, const Expr& e);
  Value constant(double v, DType dt, SrcLoc loc);
  Value as_tensor(const Value& v, DType dt, SrcLoc loc, const char* context);
  int64_t static_int(const Value& v, SrcLoc loc, const char* what, bool allow_sym = false);
  Attr to_attr(const Value& v, SrcLoc loc);
  int64_t attr_int(const Value& v, SrcLoc loc) const;

  // ---------------------------------------------------------------- types (elaborate_types.cpp)
  TensorType declared_type(const TypeExpr& t, Scope& scope, bool new_syms);
  void match_type(const TypeExpr& t, const TensorType& actual, Scope& scope, const std::string& what, SrcLoc loc);
  void check_static_type(const TypeExpr& t, Value& v, const std::string& what, SrcLoc loc);
  void bind_outputs(const FnDecl& model, const Value& result, Scope& scope);
  void bind_model_call_outputs(const FnDecl& d, const Value& result, Scope& scope);

  // ---------------------------------------------------------------- statements (elaborate_eval.cpp)
  void exec_block(const Block& b, std::shared_ptr<Scope> scope);
  void assign(const std::string& name, Value v, Scope& scope, bool is_let);
  void exec(const Stmt& s, std::shared_ptr<Scope> scope);

  // ---------------------------------------------------------------- expressions (elaborate_eval.cpp)
  Value eval(const Expr& e, const std::shared_ptr<Scope>& scope);
  Value lookup(const std::string& n, SrcLoc loc, Scope& scope);
  Value unary(const Expr& e, Value a);
  Value binary(const Expr& e, const std::shared_ptr<Scope>& scope);
  Value static_binary(const Expr& e, const Value& a, const Value& b);
  Value symbolic_dim_binary(const std::string& op, SrcLoc loc, const Value& a, const Value& b);
  Value static_int_binary(const Expr& e, int64_t x, int64_t y);
  void spend(int64_t work, SrcLoc loc);
  Value member(const Expr& e, const std::shared_ptr<Scope>& scope);
  Value index(const Expr& e, const std::shared_ptr<Scope>& scope);

  // ---------------------------------------------------------------- calls (elaborate_call.cpp)
  Value call(const Expr& e, const std::shared_ptr<Scope>& scope);
  Value call_prim(const OpDef* op, Args& args, SrcLoc loc);
  int64_t auto_stream(const std::string& opname);
  static SrcLoc call_site(const Expr& e);
  static void add_call_note(CompileError& err, const Expr& e, const std::string& callee);
  Value call_fn(const Closure& fn, Args& args, const Expr& e, bool scoped = true);

  // ---------------------------------------------------------------- parameters (elaborate_call.cpp)
  std::string dotted(const std::string& leaf) const;
  void declare_param(const Stmt& s, Scope& scope);
  Value bind_init(Value init, Args& args);
  std::pair<std::string, Floats> init_spec(const Expr* e, const Shape& shape, Scope& scope);

  // ---------------------------------------------------------------- builtins (elaborate_builtins.cpp)
  Value call_builtin(const std::string& name, Args& args, const Expr& e);
  void unknown_config_check(const Stmt& s, Scope& scope);
  Value grad(Args& args, const Expr& e);
  Value assign_state(Args& args, const Expr& e);
  Value metric(Args& args, const Expr& e);
  Value scan(Args& args, const Expr& e);
  Value shape_builtin(const std::string& name, Args& args, const Expr& e);  // elaborate_shape_builtins.cpp
};

}  // namespace starc
