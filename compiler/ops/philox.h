// Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11; the same
// generator and constants as Random123, JAX and cuRAND). Every random value is a pure
// function of (seed, stream, index), computed with 32-bit integer arithmetic only, so
// every backend (reference interpreter, CPU, GPU) produces the same bits.
//
// How (seed, stream, index) map onto Philox's key and counter:
//   key     = { lo32(seed),  hi32(seed) }
//   counter = { lo32(index), hi32(index), lo32(stream), hi32(stream) }
// i.e. the stream occupies the upper half of the 128-bit counter. Distinct
// (seed, stream, index) triples therefore always give distinct Philox inputs (no
// hashing, no collisions). `index` is the flat row-major element index of the output.
//
// Conversion to floating point uses 24 bits per uniform: u = (word >> 8) * 2^-24, so
// u is in [0, 1) and exactly representable in float32 (a float kernel reproduces it
// bit for bit). Comparisons such as dropout's `u >= p` are equivalent to the integer
// test `(word >> 8) >= ceil(p * 2^24)`.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>

namespace starc {

using PhiloxBlock = std::array<uint32_t, 4>;
using PhiloxKey = std::array<uint32_t, 2>;

inline constexpr uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;  // round multipliers
inline constexpr uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;  // Weyl key increments

// The Philox4x32 bijection with 10 rounds; the key is bumped before rounds 2..10.
constexpr PhiloxBlock philox4x32_10(PhiloxBlock ctr, PhiloxKey key) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += kPhiloxW0;
      key[1] += kPhiloxW1;
    }
    uint64_t p0 = uint64_t(kPhiloxM0) * ctr[0];
    uint64_t p1 = uint64_t(kPhiloxM1) * ctr[2];
    ctr = {uint32_t(p1 >> 32) ^ ctr[1] ^ key[0], uint32_t(p1), uint32_t(p0 >> 32) ^ ctr[3] ^ key[1], uint32_t(p0)};
  }
  return ctr;
}

// The four random words for element `index` of stream `stream` under `seed`.
constexpr PhiloxBlock philox_block(uint64_t seed, uint64_t stream, uint64_t index) {
  return philox4x32_10({uint32_t(index), uint32_t(index >> 32), uint32_t(stream), uint32_t(stream >> 32)},
                       {uint32_t(seed), uint32_t(seed >> 32)});
}

// 24-bit uniform in [0, 1): (word >> 8) * 2^-24.
constexpr double philox_u24(uint32_t word) { return double(word >> 8) * 0x1p-24; }

// Uniform in [0, 1) with 24-bit resolution, from word 0 of the block.
inline double uniform01(uint64_t seed, uint64_t stream, uint64_t index) {
  return philox_u24(philox_block(seed, stream, index)[0]);
}

// Standard normal by Box-Muller from words 0 and 1 of the same block:
//   u1 = ((w0 >> 8) + 1) * 2^-24 in (0, 1],  u2 = (w1 >> 8) * 2^-24 in [0, 1),
//   z  = sqrt(-2 ln u1) * cos(2 pi u2).
// (|z| <= sqrt(24 * 2 ln 2) ~ 5.77 because of the 24-bit u1.)
inline double standard_normal(uint64_t seed, uint64_t stream, uint64_t index) {
  PhiloxBlock b = philox_block(seed, stream, index);
  double u1 = double((b[0] >> 8) + 1) * 0x1p-24;
  double u2 = philox_u24(b[1]);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

}  // namespace starc
