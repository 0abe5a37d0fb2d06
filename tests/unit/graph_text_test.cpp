// compiler/ir/text: print -> parse -> print, parse errors, DOT export, verifier.
#include "compiler/ir/text.h"

#include <gtest/gtest.h>

#include "tests/unit/op_test_util.h"

#include <cmath>
#include <functional>

#include "compiler/ops/op.h"

namespace starc {
namespace {

using test::expect_error;

// Builds a graph node by node through the ops' own attribute completion and shape rules.
struct Builder {
  Graph g;
  explicit Builder(std::string name, SymbolNames syms = {}) {
    g.name = std::move(name);
    g.symbols = std::move(syms);
  }
  int op(const std::string& name, std::vector<int> in, Attrs attrs = {}, Loc loc = {}) {
    const OpDef* d = find_op(name);
    if (!d) throw std::runtime_error("no op " + name);
    Node n;
    n.op = d;
    n.inputs = std::move(in);
    n.attrs = complete_attrs(*d, std::move(attrs));
    std::vector<TensorType> types;
    for (int i : n.inputs) types.push_back(g.type(i));
    n.type = infer_type(*d, types, n.attrs, &g.symbols);
    n.loc = std::move(loc);
    return g.add(std::move(n));
  }
  int input(const std::string& name, DType dt, Shape shape, Loc loc = {}) {
    int id = op("input", {}, {{"name", name}, {"dtype", dt}, {"shape", Ints(shape)}}, std::move(loc));
    g.inputs.push_back(id);
    return id;
  }
  int param(const std::string& name, Shape shape, Attrs extra = {}) {
    extra["name"] = name;
    extra["dtype"] = DType::F32;
    extra["shape"] = Ints(shape);
    return op("param", {}, std::move(extra));
  }
  void ret(int id, std::string name) {
    g.outputs.push_back(id);
    g.output_names.push_back(std::move(name));
  }
};

Dim B = make_sym(0);

// print -> parse -> print is identical, both graphs verify, and the structure survived.
void expect_round_trip(const Graph& g) {
  verify_graph(g);
  std::string text = print_graph(g);
  Graph back;
  try {
    back = parse_graph(text);
  } catch (const std::exception& e) {
    FAIL() << e.what() << "\n" << text;
  }
  EXPECT_EQ(print_graph(back), text);
  verify_graph(back);
  EXPECT_EQ(back.name, g.name);
  EXPECT_EQ(back.symbols, g.symbols);
  EXPECT_EQ(back.inputs, g.inputs);
  EXPECT_EQ(back.outputs, g.outputs);
  EXPECT_EQ(back.output_names, g.output_names);
  ASSERT_EQ(back.nodes.size(), g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    EXPECT_EQ(back.nodes[i].op, g.nodes[i].op) << "%" << i;
    EXPECT_EQ(back.nodes[i].inputs, g.nodes[i].inputs) << "%" << i;
    EXPECT_EQ(back.nodes[i].type, g.nodes[i].type) << "%" << i;
    EXPECT_EQ(back.nodes[i].loc.file, g.nodes[i].loc.file) << "%" << i;
    EXPECT_EQ(back.nodes[i].loc.line, g.nodes[i].loc.line) << "%" << i;
    EXPECT_EQ(back.nodes[i].loc.col, g.nodes[i].loc.col) << "%" << i;
    EXPECT_EQ(back.nodes[i].attrs.size(), g.nodes[i].attrs.size()) << "%" << i;
  }
}

Graph small_graph() {
  Builder b("Tiny", {"B"});
  int x = b.input("flux", DType::F32, {B, 4});
  int w = b.param("dense.weight", {4}, {{"init", std::string("he_uniform")}, {"init_args", Floats{500}}});
  int s = b.op("add", {x, w}, {}, {"tiny.net", 3, 9});
  int r = b.op("relu", {s});
  b.ret(r, "out");
  return b.g;
}

TEST(GraphText, PrintsReadableForm) {
  EXPECT_EQ(print_graph(small_graph()),
            "graph Tiny(%0: f32[B,4] \"flux\") symbols(B) {\n"
            "  %1 = param {dtype=f32, init=\"he_uniform\", init_args=[500.0], name=\"dense.weight\", shape=[4], "
            "trainable=true} : f32[4]\n"
            "  %2 = add(%0, %1) : f32[B,4]  # tiny.net:3:9\n"
            "  %3 = relu(%2) : f32[B,4]\n"
            "  return %3 \"out\"\n"
            "}\n");
  expect_round_trip(small_graph());
}

TEST(GraphText, ElementwiseConstsAndLocationsRoundTrip) {
  Builder b("Mixed", {"B", "T"});
  int x = b.input("x", DType::F32, {B, make_sym(1)}, {"model.net", 1, 12});
  int m = b.input("mask", DType::Bool, {B, 1}, {"my \"dir\"/model.net", 1, 30});
  int c = b.op("const", {}, {{"value", Tensor::from_vector(DType::F32, {2, 2}, {1, 0.1, -3e38, 1e-45})}});
  int z = b.op("const", {}, {{"value", Tensor::scalar(DType::F32, 0)}});
  int gt = b.op("gt", {x, z}, {}, {"model.net", 4, 3});
  int both = b.op("ne", {gt, m});
  int e = b.op("exp", {x});
  int r = b.op("relu", {x});
  int w = b.op("where", {both, e, r}, {}, {"model.net", 5, 7});
  int l = b.op("leaky_relu", {w}, {{"alpha", 0.2}});
  int d = b.op("cast", {l}, {{"dtype", DType::F64}});
  b.op("const", {}, {{"value", Tensor::from_vector(DType::I64, {3}, {-9e18, 0, 42})}});
  b.op("const", {}, {{"value", Tensor::from_vector(DType::Bool, {2, 1}, {1, 0})}});
  b.op("const", {}, {{"value", Tensor::from_vector(DType::F64, {4}, {NAN, INFINITY, -INFINITY, 0.1})}});
  b.op("const", {}, {{"value", Tensor(DType::F32, {0, 3})}});
  b.op("add", {c, c});
  b.ret(d, "y");
  b.ret(x, "x again");
  expect_round_trip(b.g);
  std::string text = print_graph(b.g);
  EXPECT_NE(text.find("tensor<f32[2,2]>[1,0.1,-3e+38,1e-45]"), std::string::npos) << text;
  EXPECT_NE(text.find("tensor<f64[4]>[nan,inf,-inf,0.1]"), std::string::npos) << text;
  EXPECT_NE(text.find("    %1: bool[B,1] \"mask\"  # \"my \\\"dir\\\"/model.net\":1:30\n"), std::string::npos) << text;
  EXPECT_NE(text.find("{alpha=0.2}"), std::string::npos) << text;
}

TEST(GraphText, EveryAttributeKindRoundTripsExactly) {
  Builder b("Kinds", {"B"});
  Floats weird = {INFINITY, -INFINITY, NAN, 0.1, 1e-300, -0.0, 5, 1e21, 123456789.125, 4.9e-324};
  int p = b.param("odd \"name\"\\ with\nnewline\t\x01 and é", {B, 3},
                  {{"init", std::string("")}, {"init_args", weird}, {"trainable", false}});
  b.param("empty_args", {}, {});
  b.op("leaky_relu", {p}, {{"alpha", 1e-7}});
  b.op("elu", {p}, {{"alpha", -INFINITY}});
  b.op("elu", {p}, {{"alpha", int64_t(2)}});  // completed to the float 2.0
  b.ret(p, "");
  expect_round_trip(b.g);
  Graph back = parse_graph(print_graph(b.g));
  const Floats& got = attr_floats(back.nodes[0].attrs, "init_args");
  ASSERT_EQ(got.size(), weird.size());
  for (size_t i = 0; i < weird.size(); ++i) {
    if (std::isnan(weird[i]))
      EXPECT_TRUE(std::isnan(got[i]));
    else
      EXPECT_EQ(got[i], weird[i]);
    EXPECT_EQ(std::signbit(got[i]), std::signbit(weird[i])) << i;
  }
  EXPECT_EQ(attr_str(back.nodes[0].attrs, "name"), "odd \"name\"\\ with\nnewline\t\x01 and é");
  EXPECT_EQ(attr_ints(back.nodes[0].attrs, "shape"), (Ints{B, 3}));
  EXPECT_TRUE(attr_floats(back.nodes[1].attrs, "init_args").empty());
  EXPECT_EQ(attr_float(back.nodes[4].attrs, "alpha"), 2.0);
  std::string text = print_graph(b.g);
  EXPECT_NE(text.find("shape=[B,3]"), std::string::npos) << text;
  EXPECT_NE(text.find("init_args=[inf,-inf,nan,0.1,1e-300,-0.0,5.0,1e+21,123456789.125,5e-324]"), std::string::npos)
      << text;
}

// h' = tanh(h + x_t * w) + bias, with w captured from the outer graph and bias a param of the body.
Graph rnn_graph(bool body_has_own_symbols) {
  Builder body("rnn_step", body_has_own_symbols ? SymbolNames{"B"} : SymbolNames{});
  body.g.symbols = {"B"};  // for the builder's shape rules; cleared below if requested
  int h = body.input("h", DType::F32, {B, 8});
  int xt = body.input("x_t", DType::F32, {B, 8}, {"rnn.net", 7, 5});
  int w = body.input("w", DType::F32, {8});
  int bias = body.param("rnn.bias", {8});
  int xw = body.op("mul", {xt, w}, {}, {"rnn.net", 8, 20});
  int s = body.op("add", {h, xw});
  int hn = body.op("add", {body.op("tanh", {s}), bias});
  body.ret(hn, "h");
  body.ret(hn, "y");
  if (!body_has_own_symbols) body.g.symbols.clear();

  Builder b("RNN", {"B"});
  int xs = b.input("xs", DType::F32, {B, 5, 8});
  int h0 = b.op("const", {}, {{"value", Tensor::from_vector(DType::F32, {8}, {0, 0, 0, 0, 0, 0, 0, 1})}});
  int zero = b.input("h0", DType::F32, {B, 8});
  int wp = b.param("rnn.w", {8}, {{"init", std::string("normal")}, {"init_args", Floats{0, 0.02}}});
  int y = b.op("scan", {xs, zero, wp},
               {{"body", std::make_shared<const Graph>(body.g)}, {"n_carry", int64_t(1)}, {"axis", int64_t(1)}},
               {"rnn.net", 12, 3});
  b.op("add", {zero, h0});
  b.ret(y, "ys");
  return b.g;
}

TEST(GraphText, ScanBodyPrintsInlineAndRoundTrips) {
  for (bool own : {false, true}) {
    Graph g = rnn_graph(own);
    expect_round_trip(g);
    Graph back = parse_graph(print_graph(g));
    const Graph& body = attr_graph(back.nodes[4].attrs, "body");
    EXPECT_EQ(body.symbols,
              g.nodes[4].attrs.count("body") ? attr_graph(g.nodes[4].attrs, "body").symbols : SymbolNames{});
    EXPECT_EQ(body.nodes.size(), 8u);
    EXPECT_EQ(body.nodes[1].loc.line, 7);
    EXPECT_EQ(back.type(4), (TensorType{DType::F32, {B, 5, 8}}));
  }
  std::string text = print_graph(rnn_graph(false));
  EXPECT_NE(text.find("  %4 = scan(%0, %2, %3) {axis=1, body=graph rnn_step(\n"
                      "        %0: f32[B,8] \"h\",\n"
                      "        %1: f32[B,8] \"x_t\",  # rnn.net:7:5\n"
                      "        %2: f32[8] \"w\"\n"
                      "    ) {\n"
                      "      %3 = param"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("      return %7 \"h\", %7 \"y\"\n    }, n_carry=1, n_xs=1, reverse=false, save_carries=false} : "
                      "f32[B,5,8]  # rnn.net:12:3\n"),
            std::string::npos)
      << text;
}

TEST(GraphText, OddNamesSymbolsAndNestedScansRoundTrip) {
  // Unusable symbol names (duplicate, keyword) print dims as ?N; odd graph names are quoted.
  for (SymbolNames syms : {SymbolNames{"B", "B"}, SymbolNames{"f32", "T"}, SymbolNames{"a b", "T"}}) {
    Builder b("", syms);
    int x = b.input("x", DType::F32, {B, make_sym(1), 2});
    b.ret(b.op("exp", {x}), "y");
    expect_round_trip(b.g);
    if (syms.size() && syms[0] == "B") EXPECT_NE(print_graph(b.g).find("f32[?0,?1,2]"), std::string::npos);
  }
  // A scan whose body holds another scan: indentation nests and ids restart per graph.
  Builder l2("level2", {"B"});
  int h2 = l2.input("h", DType::F32, {B, 8});
  int x2 = l2.input("x_t", DType::F32, {B, 8});
  int s2 = l2.op("add", {h2, x2}, {}, {"deep.net", 3, 5});
  l2.ret(s2, "h");
  l2.ret(s2, "y");
  Builder l1("level1", {"B"});
  int h1 = l1.input("h", DType::F32, {B, 8});
  int x1 = l1.input("x_t", DType::F32, {B, 4, 8});
  int y1 = l1.op("scan", {x1, h1}, {{"body", std::make_shared<const Graph>(l2.g)}, {"n_carry", int64_t(1)}});
  l1.ret(l1.op("tanh", {h1}), "h");
  l1.ret(y1, "y");
  l1.g.symbols.clear();  // uses the names of the enclosing graph
  Builder top("Deep", {"B"});
  int xs = top.input("xs", DType::F32, {B, 3, 4, 8});
  int s0 = top.input("s0", DType::F32, {B, 8});
  top.ret(top.op("scan", {xs, s0}, {{"body", std::make_shared<const Graph>(l1.g)}, {"n_carry", int64_t(1)}}), "ys");
  expect_round_trip(top.g);
  std::string text = print_graph(top.g);
  EXPECT_NE(
      text.find(
          "  %2 = scan(%0, %1) {axis=1, body=graph level1(%0: f32[B,8] \"h\", %1: f32[B,4,8] \"x_t\") {\n"
          "      %2 = scan(%1, %0) {axis=1, body=graph level2(%0: f32[B,8] \"h\", %1: f32[B,8] \"x_t\") symbols(B) {\n"
          "          %2 = add(%0, %1) : f32[B,8]  # deep.net:3:5\n"
          "          return %2 \"h\", %2 \"y\"\n"
          "        }, n_carry=1, n_xs=1, reverse=false, save_carries=false} : f32[B,4,8]\n"
          "      %3 = tanh(%0) : f32[B,8]\n"),
      std::string::npos)
      << text;
}

TEST(GraphText, ParsesHandWrittenTextWithDefaultsAndComments) {
  Graph g = parse_graph(R"(# a comment line
graph hand(%0: f64[N,3] "x") symbols(N) {   # trailing comment, not a location
  %1 = leaky_relu(%0) : f64[N,3]            # hand.net:2:1
  %2 = const {value=tensor<f64[]>[2]} : f64[]
  %3 = mul(%1, %2) : f64[N,3]
  return %3 "y"
})");
  verify_graph(g);
  EXPECT_EQ(attr_float(g.nodes[1].attrs, "alpha"), 0.01);
  EXPECT_EQ(g.nodes[1].loc.file, "hand.net");
  EXPECT_FALSE(g.nodes[3].loc.known());
  EXPECT_EQ(print_graph(parse_graph(print_graph(g))), print_graph(g));
}

TEST(GraphText, ParseErrorsNameLineAndColumn) {
  auto parse = [](std::string body) {
    return [body] { parse_graph("graph g(%0: f32[B,3] \"x\") symbols(B) {\n" + body + "\n  return %1 \"y\"\n}\n"); };
  };
  expect_error(parse("  %1 = frobnicate(%0) : f32[B,3]"), {"2:8:", "unknown op 'frobnicate'"});
  expect_error(parse("  %1 relu(%0) : f32[B,3]"), {"2:6:", "expected '='"});
  expect_error(parse("  %1 = relu(%5) : f32[B,3]"), {"2:13:", "undefined value %5"});
  expect_error(parse("  %1 = relu(%1) : f32[B,3]"), {"2:13:", "undefined value %1"});
  expect_error(parse("  %1 = relu(%0) : f32[B,4]"), {"2:19:", "type mismatch", "f32[B,4]", "gives f32[B,3]"});
  expect_error(parse("  %1 = relu(%0) : f32[C,3]"), {"2:23:", "unknown dimension symbol 'C'"});
  expect_error(parse("  %2 = relu(%0) : f32[B,3]"), {"2:3:", "expected %1 here"});
  expect_error(parse("  %1 = relu(%0) {alpha=1.0} : f32[B,3]"), {"2:8:", "unknown argument 'alpha'"});
  expect_error(parse("  %1 = leaky_relu(%0) {alpha=\"big\"} : f32[B,3]"), {"2:8:", "alpha"});
  expect_error(parse("  %1 = add(%0, %0, %0) : f32[B,3]"), {"2:8:", "takes 2 tensor inputs"});
  expect_error(parse("  %1 = exp(%0) {x=\"abc} : f32[B,3]"), {"2:", "unterminated string"});
  expect_error(parse("  %1 = const {value=tensor<f32[2]>[1,2,3]} : f32[2]"), {"2:", "too many values"});
  expect_error(parse("  %1 = const {value=tensor<f32[2]>[1]} : f32[2]"), {"2:", "needs 2 values, got 1"});
  expect_error(parse("  %1 = relu(%0) : f32[B,3] $"), {"2:28:", "unexpected character '$'"});
  expect_error([] { parse_graph("graph g(%0: f32[3] \"x\") {\n  return %0 \"y\"\n}\ngraph"); },
               {"4:1:", "unexpected text"});
  expect_error([] { parse_graph("graph g(%1: f32[3] \"x\") {\n  return\n}"); }, {"1:9:", "never defined"});
  expect_error([] { parse_graph("graph g(%0: f32[3] \"x\") {\n  return %0 \"y\"\n"); }, {"3:1:", "expected '}'"});
  expect_error([] { parse_graph(""); }, {"1:1:", "expected 'graph'"});
}

// Damaging printed text anywhere gives a clean error (or still parses), never a crash.
TEST(GraphText, DamagedTextNeverCrashes) {
  std::string text = print_graph(rnn_graph(false));
  for (size_t i = 0; i < text.size(); i += 3) {
    for (std::string_view repl : {"", "%", "]", "9", "\""}) {
      std::string t = text;
      t.replace(i, 1, repl);
      try {
        parse_graph(t);
      } catch (const std::runtime_error&) {}
    }
  }
}

TEST(GraphTextVerify, AcceptsValidGraphs) {
  verify_graph(small_graph());
  verify_graph(rnn_graph(false));
  verify_graph(rnn_graph(true));
}

TEST(GraphTextVerify, CatchesCorruptions) {
  auto broken = [](std::function<void(Graph&)> damage) {
    return [damage] {
      Graph g = small_graph();
      damage(g);
      verify_graph(g);
    };
  };
  expect_error(broken([](Graph& g) { g.nodes[3].type.shape[1] = 5; }),
               {"node %3 (relu)", "type is f32[B,5] but the shape rule gives f32[B,4]"});
  expect_error(broken([](Graph& g) { g.nodes[2].inputs[1] = 3; }), {"node %2 (add)", "%3", "topological order"});
  expect_error(broken([](Graph& g) { g.nodes[2].inputs[0] = -1; }), {"node %2 (add)", "%-1"});
  expect_error(broken([](Graph& g) { g.inputs = {0, 1}; }), {"graph input 1 refers to %1", "param"});
  expect_error(broken([](Graph& g) { g.inputs = {}; }), {"node %0 (input)", "not listed"});
  expect_error(broken([](Graph& g) { g.outputs[0] = 9; }), {"output 0 refers to %9"});
  expect_error(broken([](Graph& g) { g.output_names.push_back("extra"); }), {"1 outputs but 2 output names"});
  expect_error(broken([](Graph& g) { g.nodes.push_back(g.nodes[1]); }), {"node %4 (param)", "'dense.weight'", "%1"});
  expect_error(broken([](Graph& g) { g.nodes[2].attrs["bogus"] = int64_t(1); }), {"node %2 (add)", "bogus"});
  expect_error(broken([](Graph& g) { g.nodes[1].attrs.erase("init"); }), {"node %1 (param)", "'init' is missing"});
  expect_error(broken([](Graph& g) { g.nodes[3].op = nullptr; }), {"node %3", "no op"});
  expect_error(broken([](Graph& g) { g.symbols.clear(); }), {"node %0 (input)", "symbolic dim"});

  Graph g = rnn_graph(false);
  Graph body = attr_graph(g.nodes[4].attrs, "body");
  body.nodes[5].type.dtype = DType::F64;
  g.nodes[4].attrs["body"] = std::make_shared<const Graph>(body);
  expect_error([&] { verify_graph(g); }, {"attribute 'body' of node %4 (scan)", "node %5 (add)", "f64[B,8]"});
}

TEST(GraphTextDot, HasNodesEdgesAndStyles) {
  std::string dot = to_dot(rnn_graph(false));
  EXPECT_EQ(dot.rfind("digraph \"RNN\" {", 0), 0u) << dot;
  EXPECT_NE(dot.find("n0 [label=\"%0 input xs\\nf32[B,5,8]\", shape=ellipse"), std::string::npos) << dot;
  EXPECT_NE(dot.find("n3 [label=\"%3 param rnn.w\\nf32[8]\", shape=box, style=\"filled,dashed\""), std::string::npos)
      << dot;
  EXPECT_NE(dot.find("n4 [label=\"%4 scan\\nf32[B,5,8]\"]"), std::string::npos) << dot;
  EXPECT_NE(dot.find("n0 -> n4 [label=\"xs\"]"), std::string::npos) << dot;
  EXPECT_NE(dot.find("n3 -> n4"), std::string::npos) << dot;
  EXPECT_NE(dot.find("subgraph cluster_n4_"), std::string::npos) << dot;
  EXPECT_NE(dot.find("n4_n5 [label=\"%5 add\\nf32[B,8]\"]"), std::string::npos) << dot;
  EXPECT_NE(dot.find("n4_n0 -> n4_n5 [label=\"a\"]"), std::string::npos) << dot;
  EXPECT_NE(dot.find("n4 -> out0"), std::string::npos) << dot;
  EXPECT_EQ(dot.back(), '\n');
}

}  // namespace
}  // namespace starc
