// The .npz reader of AOT libraries (compiler/backend/kernels/starc_npz.c; the copy in
// the JIT's kernel library, prefix starc_): archives that starc writes (deflated), stored
// and zip64 ones built here, and random damage to each, which must never crash and either
// fail with a message, leaving every tensor as it was, or load exactly the original arrays.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "compiler/backend/kernels/starc_npz.h"
#include "runtime/io/npy.h"

namespace starc::test {
namespace {

namespace fs = std::filesystem;
using Arrays = std::vector<std::pair<std::string, Tensor>>;

// A model's tensors: names, types and destination buffers, filled with a sentinel.
struct Model {
  Arrays want;  // the model's tensors, as the archives hold them
  std::vector<std::string> types;
  std::vector<std::vector<unsigned char>> dst;
  static constexpr unsigned char kSentinel = 0xA5;

  Model() {
    want = {{"a.weight", Tensor::from_vector(DType::F32, {3, 4}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})},
            {"b", Tensor::from_vector(DType::F64, {2}, {0.25, -1e300})},
            {"c", Tensor::scalar(DType::I64, -7)},
            {"d", Tensor::from_vector(DType::Bool, {5}, {1, 0, 0, 1, 1})},
            {"opt.exp_avg.a.weight", Tensor::from_vector(DType::F32, {3, 4}, std::vector<double>(12, 0.5))}};
    for (auto& [name, t] : want) types.push_back(type_str(t.type()));
    reset();
  }
  void reset() {
    dst.assign(want.size(), {});
    for (size_t i = 0; i < want.size(); ++i) dst[i].assign(want[i].second.nbytes(), kSentinel);
  }
  bool untouched(size_t i) const {
    for (unsigned char c : dst[i])
      if (c != kSentinel) return false;
    return true;
  }
  bool loaded(size_t i) const { return std::memcmp(dst[i].data(), want[i].second.raw(), dst[i].size()) == 0; }

  int load(const std::string& bytes, std::string* err) {
    std::vector<starc_npz_tensor> t;
    for (size_t i = 0; i < want.size(); ++i) {
      const Tensor& w = want[i].second;
      t.push_back({want[i].first.c_str(), types[i].c_str(), dtype_code(w.dtype()), w.rank(), w.shape().data(),
                   w.nbytes(), dst[i].data()});
    }
    char msg[1024] = "";
    int rc = starc_npz_load_buffer(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), "w.npz", "M",
                                   t.data(), int(t.size()), msg, sizeof msg);
    *err = msg;
    return rc;
  }
};

void put(std::string& s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s += char((v >> (8 * i)) & 0xFF);
}

// A zip of stored NAME.npy entries (as numpy.savez writes); zip64: the central directory
// gives sizes and offsets in zip64 fields, and a zip64 end record ends it.
std::string stored_zip(const Arrays& arrays, bool zip64) {
  std::string body, dir;
  for (auto& [key, t] : arrays) {
    std::string data = serialize_npy(t), name = key + ".npy";
    uint32_t crc = uint32_t(crc32(0, reinterpret_cast<const Bytef*>(data.data()), uInt(data.size())));
    uint64_t at = body.size();
    body += "PK\3\4";
    for (uint64_t v : {20, 0, 0, 0, 0x21}) put(body, v, 2);
    put(body, crc, 4), put(body, data.size(), 4), put(body, data.size(), 4);
    put(body, name.size(), 2), put(body, 0, 2);
    body += name + data;
    dir += "PK\1\2";
    for (uint64_t v : {45, 45, 0, 0, 0, 0x21}) put(dir, v, 2);
    put(dir, crc, 4);
    put(dir, zip64 ? 0xFFFFFFFF : data.size(), 4), put(dir, zip64 ? 0xFFFFFFFF : data.size(), 4);
    put(dir, name.size(), 2), put(dir, zip64 ? 28 : 0, 2);
    for (int v : {0, 0, 0}) put(dir, v, 2);
    put(dir, 0, 4), put(dir, zip64 ? 0xFFFFFFFF : at, 4);
    dir += name;
    if (zip64) put(dir, 1, 2), put(dir, 24, 2), put(dir, data.size(), 8), put(dir, data.size(), 8), put(dir, at, 8);
  }
  std::string end;
  const uint64_t n = arrays.size(), dir_at = body.size();
  if (zip64) {
    const uint64_t record_at = dir_at + dir.size();
    end += "PK\6\6";
    put(end, 44, 8), put(end, 45, 2), put(end, 45, 2), put(end, 0, 4), put(end, 0, 4);
    put(end, n, 8), put(end, n, 8), put(end, dir.size(), 8), put(end, dir_at, 8);
    end += "PK\6\7";
    put(end, 0, 4), put(end, record_at, 8), put(end, 1, 4);
  }
  end += "PK\5\6";
  put(end, 0, 2), put(end, 0, 2), put(end, zip64 ? 0xFFFF : n, 2), put(end, zip64 ? 0xFFFF : n, 2);
  put(end, dir.size(), 4), put(end, zip64 ? 0xFFFFFFFF : dir_at, 4), put(end, 0, 2);
  return body + dir + end;
}

// The archive starc writes (write_npz: deflated), read back as bytes.
std::string starc_npz(const Arrays& arrays) {
  fs::path p = fs::temp_directory_path() / ("starc_npz_test_" + std::to_string(::getpid()) + ".npz");
  write_npz(p.string(), std::map<std::string, Tensor>(arrays.begin(), arrays.end()));
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  fs::remove(p);
  return s.str();
}

// A checkpoint-like archive: the model's tensors, an optimizer slot, a counter.
Arrays checkpoint(const Model& m) {
  Arrays a = m.want;
  a.emplace_back("starc.epoch", Tensor::scalar(DType::I64, 3));
  return a;
}

TEST(AotNpzReader, LoadsDeflatedStoredAndZip64Archives) {
  Model m;
  for (const std::string& bytes :
       {starc_npz(checkpoint(m)), stored_zip(checkpoint(m), false), stored_zip(checkpoint(m), true)}) {
    m.reset();
    std::string err;
    ASSERT_EQ(m.load(bytes, &err), STARC_NPZ_OK) << err;
    for (size_t i = 0; i < m.want.size(); ++i) EXPECT_TRUE(m.loaded(i)) << m.want[i].first;
  }
  // Without the optimizer slot: it keeps its value.
  m.reset();
  Arrays plain(m.want.begin(), m.want.end() - 1);
  std::string err;
  ASSERT_EQ(m.load(stored_zip(plain, false), &err), STARC_NPZ_OK) << err;
  EXPECT_TRUE(m.loaded(0));
  EXPECT_TRUE(m.untouched(4));
}

TEST(AotNpzReader, WrongArchivesAreErrorsThatChangeNothing) {
  Model m;
  Arrays dup = m.want, renamed = m.want;
  dup.push_back(m.want[1]);
  renamed[1].first = "bb";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {stored_zip(dup, false), "w.npz: array 'b' appears twice"},
      {stored_zip(renamed, false), "w.npz: missing weight 'b' (f64[2]) of model M; unexpected array 'bb'"},
      {std::string("PK\5\6", 4) + std::string(18, '\0'),
       "missing weights 'a.weight' (f32[3,4]), 'b' (f64[2]), 'c' "
       "(i64[]) and 1 more of model M"},
      {std::string("PK\3\4hello"), "not a zip archive (9 bytes)"}};
  for (auto& [bytes, needle] : cases) {
    std::string err;
    EXPECT_EQ(m.load(bytes, &err), STARC_NPZ_ERR_WEIGHTS) << needle;
    EXPECT_NE(err.find(needle), std::string::npos) << err;
    for (size_t i = 0; i < m.want.size(); ++i) EXPECT_TRUE(m.untouched(i)) << needle;
  }
}

// Random damage: flipped bytes, cuts, inserted bytes. Every outcome is an error with a
// message and untouched tensors, or the original arrays (damage to what is not read:
// timestamps, the counter's data, an optional entry's name).
TEST(AotNpzReader, RandomDamageFailsCleanlyOrLoadsTheOriginal) {
  Model m;
  std::mt19937 rng(42);
  int failed = 0, loaded = 0;
  for (const std::string& good :
       {starc_npz(checkpoint(m)), stored_zip(checkpoint(m), false), stored_zip(checkpoint(m), true)}) {
    for (int round = 0; round < 1500; ++round) {
      std::string bad = good;
      int kind = int(rng() % 3);
      if (kind == 0) {
        for (int k = 1 + int(rng() % 4); k > 0; --k) bad[rng() % bad.size()] ^= char(1 + rng() % 255);
      } else if (kind == 1) {
        bad.resize(rng() % bad.size());
      } else {
        bad.insert(rng() % bad.size(), std::string(1 + rng() % 8, char(rng())));
      }
      m.reset();
      std::string err;
      int rc = m.load(bad, &err);
      if (rc != STARC_NPZ_OK) {
        ++failed;
        EXPECT_EQ(rc, STARC_NPZ_ERR_WEIGHTS) << err;
        EXPECT_EQ(err.rfind("w.npz: ", 0), 0u) << err;
        for (size_t i = 0; i < m.want.size(); ++i) ASSERT_TRUE(m.untouched(i)) << err;
      } else {
        ++loaded;
        for (size_t i = 0; i < 4; ++i) ASSERT_TRUE(m.loaded(i)) << m.want[i].first << " round " << round;
        EXPECT_TRUE(m.loaded(4) || m.untouched(4));
      }
    }
  }
  EXPECT_GT(failed, 3000);
  EXPECT_GT(loaded, 10);
}

}  // namespace
}  // namespace starc::test
