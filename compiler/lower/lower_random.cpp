// Lowerings of the random ops (compiler/ops/random.cpp): random_normal, random_uniform.
//
// One elementwise linalg.generic without inputs each: the element's random words are
// Philox4x32-10 written with arith ops on i32/i64 (lower_util.h: philox_block; philox.h:
// key = run seed, counter = (flat index, stream)), turned into numbers in f64 as the
// reference does (Box-Muller; a 24-bit scale clamped below high) and rounded to the
// element type once, at the end.
#include <cmath>
#include <numbers>

#include "compiler/lower/emit.h"
#include "compiler/lower/lower_util.h"

namespace starc {
namespace {

using namespace lower_util;

void lower_random_normal(E e, const Node& n, int id) {
  double mean = attr_float(n.attrs, "mean"), sd = attr_float(n.attrs, "std");
  uint64_t stream = uint64_t(attr_int(n.attrs, "stream"));
  DType t = n.type.dtype;
  e.bind(
      id, map(e, {}, n.type, [&](E e, Args) {
        std::vector<std::string> w = philox_block(e, stream, flat_index(e, n.type.shape));
        std::string u1 = u24(e, w[0], true), u2 = u24(e, w[1], false);
        std::string r = op1(e, "math.sqrt",
                            op2(e, "arith.mulf", f64c(e, -2.0), op1(e, "math.log", u1, DType::F64), "f64"), DType::F64);
        std::string c =
            op1(e, "math.cos", op2(e, "arith.mulf", f64c(e, 2.0 * std::numbers::pi), u2, "f64"), DType::F64);
        std::string z = op2(e, "arith.mulf", r, c, "f64");
        return from_f64(e, op2(e, "arith.addf", f64c(e, mean), op2(e, "arith.mulf", f64c(e, sd), z, "f64"), "f64"), t);
      }));
}

void lower_random_uniform(E e, const Node& n, int id) {
  double lo = attr_float(n.attrs, "low"), hi = attr_float(n.attrs, "high");
  uint64_t stream = uint64_t(attr_int(n.attrs, "stream"));
  DType t = n.type.dtype;
  // The largest value below `high` in the element type (the reference's clamp).
  double below = t == DType::F32 ? double(std::nextafter(float(hi), float(lo))) : std::nextafter(hi, lo);
  e.bind(id, map(e, {}, n.type, [&](E e, Args) {
           std::string u = u24(e, philox_block(e, stream, flat_index(e, n.type.shape))[0], false);
           std::string y = from_f64(
               e, op2(e, "arith.addf", f64c(e, lo), op2(e, "arith.mulf", f64c(e, hi - lo), u, "f64"), "f64"), t);
           if (!(lo < hi)) return y;
           std::string ge = cmpf(e, "oge", y, e.constant_scalar(hi, t), t);
           return select(e, ge, e.constant_scalar(below, t), y, t);
         }));
}

}  // namespace

void register_random_lowerings(LoweringTable& t) {
  t["random_normal"] = lower_random_normal;
  t["random_uniform"] = lower_random_uniform;
}

}  // namespace starc
