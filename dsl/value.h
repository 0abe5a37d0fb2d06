// dsl: values during elaboration. Static values (ints, floats, bools, strings, lists,
// dtypes, functions) are computed by the front end; tensor values are nodes of the
// Graph being built. A model is thus "run" once, symbolically, to produce its Graph.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"
#include "dsl/ast.h"

namespace starc {

struct OpDef;
struct GraphCtx;
struct Scope;

struct Closure {
  std::shared_ptr<FnDecl> decl;  // a named fn or model
  const Expr* lambda = nullptr;  // or a lambda `|x| expr`
  std::shared_ptr<Scope> env;    // where it was defined
};

struct Value {
  enum Kind {
    None,
    Int,
    Float,
    Bool,
    Str,
    DTypeV,
    List,
    Tuple,
    Tensor,
    Func,
    Prim,
    Builtin,
    PrimNamespace,
    Init,
    Config
  } kind = None;
  int64_t i = 0;     // Int: a static integer, or the encoding of a symbolic dim (see dtype.h) when `sym`
  bool sym = false;  // Int: `i` is a symbolic dim (e.g. the batch B), known only at run time
  double f = 0;
  bool b = false;
  std::string s;  // Str, Builtin name, Init name
  DType dt = DType::F32;
  std::vector<Value> items;        // List, Tuple; Init: argument values
  std::vector<std::string> names;  // Init, Config: argument names
  // Config: an optimizer or schedule of a train block (`adam(lr: 1e-3)`): s = its name,
  // names/items = every argument, defaults filled in.
  int id = -1;  // Tensor: node id in `g`
  GraphCtx* g = nullptr;
  std::shared_ptr<Closure> fn;
  const OpDef* op = nullptr;

  static Value integer(int64_t v) {
    Value x;
    x.kind = Int;
    x.i = v;
    return x;
  }
  // A dim of a tensor's shape: a static int, or symbolic when the shape's dim is. Only this
  // constructor makes symbolic values, so no integer a program computes can pass for one.
  static Value dim(int64_t d) {
    Value x = integer(d);
    x.sym = is_sym(d);
    return x;
  }
  bool is_sym_dim() const { return kind == Int && sym; }
  static Value number(double v) {
    Value x;
    x.kind = Float;
    x.f = v;
    return x;
  }
  static Value boolean(bool v) {
    Value x;
    x.kind = Bool;
    x.b = v;
    return x;
  }
  static Value tensor(GraphCtx* g, int id) {
    Value x;
    x.kind = Tensor;
    x.g = g;
    x.id = id;
    return x;
  }
  bool is_num() const { return kind == Int || kind == Float; }
  double as_double() const { return kind == Int ? double(i) : f; }
};

struct Scope {
  std::map<std::string, Value> vars;
  std::shared_ptr<Scope> parent;
  bool fn_top = false;  // plain assignments create new variables here
  Value* find(const std::string& n) {
    for (Scope* s = this; s; s = s->parent.get())
      if (auto it = s->vars.find(n); it != s->vars.end()) return &it->second;
    return nullptr;
  }
};

// A graph under construction; scan bodies are children that capture outer values.
struct GraphCtx {
  Graph g;
  GraphCtx* parent = nullptr;
  std::map<int, int> captured;       // parent value id -> input id here
  std::vector<int> capture_sources;  // parent value ids, in capture order
};

}  // namespace starc
