// dsl: the abstract syntax tree of a .net file. Every node keeps its source span.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dsl/diag.h"

namespace starc {

struct Expr;
struct Stmt;
struct FnDecl;
using ExprP = std::unique_ptr<Expr>;
using StmtP = std::unique_ptr<Stmt>;
using Block = std::vector<StmtP>;

// `f32[B, 1, 4618]`, `[out, in]` (dtype taken from context), or a static type name.
struct TypeExpr {
  SrcLoc loc;
  std::string name;  // "int", "float", "bool", "str", "fn", or a dtype ("f32"...), or "" if omitted
  bool is_tensor = false;
  std::vector<ExprP> dims;  // tensor dims: expressions; a bare unknown name binds a dim; `_` matches any
};

struct Arg {
  std::string name;  // empty = positional
  SrcLoc name_loc;
  ExprP value;
};

struct IndexItem {
  bool is_slice = false;
  ExprP index;             // when !is_slice
  ExprP start, end, step;  // when is_slice; each may be null
  SrcLoc loc;
};

struct Expr {
  enum Kind { Int, Float, Str, Bool, Name, Tuple, List, Unary, Binary, Call, Index, Member, Lambda } kind;
  SrcLoc loc;
  int64_t ival = 0;
  double fval = 0;
  bool bval = false;
  std::string name;              // Name, Member field, Str value, Unary/Binary operator spelling
  std::vector<ExprP> items;      // Tuple/List items; Unary/Binary operands; Member/Index/Call base in items[0]
  std::vector<Arg> args;         // Call
  std::vector<IndexItem> index;  // Index
  std::string as_name;           // Call: explicit scope name (`f(x) as enc0`)
  SrcLoc as_loc;
  std::vector<std::pair<std::string, SrcLoc>> lambda_params;  // Lambda; body in items[0]
};

struct Param {
  std::string name;
  SrcLoc loc;
  std::optional<TypeExpr> type;
  ExprP default_value;
};

struct Stmt {
  enum Kind { Assign, ParamDecl, Return, For, If, FnDef, Assert, ExprStmt } kind;
  SrcLoc loc;
  // Assign: targets (1 = plain, >1 = tuple destructuring); is_let.
  std::vector<std::pair<std::string, SrcLoc>> targets;
  bool is_let = false;
  ExprP value;   // Assign/Return/ExprStmt value; ParamDecl initializer; For range start/iterable; If/Assert condition
  ExprP value2;  // For: range end (null when iterating a list); Assert: message
  // ParamDecl
  std::string name;
  bool trainable = true;
  std::optional<TypeExpr> type;
  // For / If
  Block body, else_body;
  // FnDef
  std::shared_ptr<FnDecl> fn;
};

struct FnDecl {
  std::string name;
  SrcLoc loc;  // the name
  bool is_model = false;
  std::vector<Param> params;
  // model outputs: (name or "", type)
  std::vector<std::pair<std::string, TypeExpr>> outputs;
  SrcLoc outputs_loc;
  Block body;
  int module = -1;  // index of the module that defines it
};

// `train MODEL(extra inputs) { statements; step NAME(params: ...) { statements } ... }`:
// how a model is trained (dsl/train.cpp). `train` and `step` are contextual keywords.
struct TrainStep {
  std::string name;
  SrcLoc loc;             // the step's name
  std::vector<Arg> args;  // `(params: "disc.")`
  Block body;
};

struct TrainDecl {
  std::string model;
  SrcLoc loc;                    // the model name after `train`
  SrcLoc kw_loc;                 // the `train` keyword
  std::vector<Param> params;     // extra data inputs (targets)
  Block body;                    // the statements outside named steps, in order
  std::vector<TrainStep> steps;  // named steps (empty: one step, "train")
  int module = -1;
};

struct UseDecl {
  std::vector<std::string> path;  // std.nn -> {"std", "nn"}
  SrcLoc loc;
};

struct Module {
  std::string path;  // file path
  int file = -1;
  std::vector<UseDecl> uses;
  std::vector<std::shared_ptr<FnDecl>> decls;
  std::vector<std::shared_ptr<TrainDecl>> trains;
};

}  // namespace starc
