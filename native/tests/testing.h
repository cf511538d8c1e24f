// Minimal test harness for the engine's C++ tests: CHECK macros, a test
// registry, a .npy reader and paths to fixtures. Each test_*.cpp is one binary
// run by ctest from the repository root.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace testing {

struct Case { const char* name; std::function<void()> fn; };
inline std::vector<Case>& registry() { static std::vector<Case> r; return r; }
inline int& failures() { static int n = 0; return n; }
struct Register { Register(const char* n, std::function<void()> f) { registry().push_back({n, std::move(f)}); } };

#define TEST(name) \
  static void test_##name(); \
  static testing::Register reg_##name(#name, test_##name); \
  static void test_##name()

#define CHECK(cond) do { if (!(cond)) { \
  std::fprintf(stderr, "  CHECK failed %s:%d: %s\n", __FILE__, __LINE__, #cond); ++testing::failures(); } } while (0)
#define CHECK_MSG(cond, ...) do { if (!(cond)) { \
  std::fprintf(stderr, "  CHECK failed %s:%d: %s: ", __FILE__, __LINE__, #cond); std::fprintf(stderr, __VA_ARGS__); \
  std::fprintf(stderr, "\n"); ++testing::failures(); } } while (0)
#define REQUIRE(cond) do { if (!(cond)) { \
  std::fprintf(stderr, "  REQUIRE failed %s:%d: %s\n", __FILE__, __LINE__, #cond); ++testing::failures(); return; } } while (0)

inline int run_all(int argc, char** argv) {
  const char* only = argc > 1 ? argv[1] : nullptr;
  int passed = 0, failed = 0;
  for (auto& c : registry()) {
    if (only && std::strstr(c.name, only) == nullptr) continue;
    const int before = failures();
    try {
      c.fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "  exception: %s\n", e.what());
      ++failures();
    }
    const bool ok = failures() == before;
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", c.name);
    ok ? ++passed : ++failed;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

// Max |a-b| / max(|b|) over all elements: the normalized error used everywhere.
inline double rel_err(const float* a, const float* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    num = std::fmax(num, std::fabs(static_cast<double>(a[i]) - b[i]));
    den = std::fmax(den, std::fabs(static_cast<double>(b[i])));
  }
  if (std::isnan(num)) return INFINITY;
  return den > 0 ? num / den : num;
}

struct Npy { std::vector<size_t> shape; std::vector<float> data; };

// Reads a little-endian float32 or float64 .npy (C order) into float32.
inline Npy read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  char magic[6]; f.read(magic, 6);
  if (std::memcmp(magic, "\x93NUMPY", 6) != 0) throw std::runtime_error("not npy: " + path);
  uint8_t ver[2]; f.read(reinterpret_cast<char*>(ver), 2);
  uint32_t hlen = 0;
  if (ver[0] == 1) { uint16_t h; f.read(reinterpret_cast<char*>(&h), 2); hlen = h; }
  else f.read(reinterpret_cast<char*>(&hlen), 4);
  std::string header(hlen, '\0'); f.read(&header[0], hlen);
  const bool f64 = header.find("<f8") != std::string::npos;
  if (!f64 && header.find("<f4") == std::string::npos) throw std::runtime_error("npy dtype not f4/f8: " + path);
  if (header.find("'fortran_order': True") != std::string::npos) throw std::runtime_error("fortran npy: " + path);
  Npy out;
  const size_t lp = header.find('('), rp = header.find(')');
  std::stringstream ss(header.substr(lp + 1, rp - lp - 1));
  std::string tok; size_t n = 1;
  while (std::getline(ss, tok, ',')) { if (tok.find_first_of("0123456789") == std::string::npos) continue; out.shape.push_back(std::stoull(tok)); n *= out.shape.back(); }
  out.data.resize(n);
  if (f64) { std::vector<double> d(n); f.read(reinterpret_cast<char*>(d.data()), n * 8); for (size_t i = 0; i < n; ++i) out.data[i] = static_cast<float>(d[i]); }
  else f.read(reinterpret_cast<char*>(out.data.data()), n * 4);
  if (!f) throw std::runtime_error("truncated npy: " + path);
  return out;
}

inline std::string fixture(const std::string& rel) { return "test/fixtures/" + rel; }
inline std::string shared_path(const std::string& rel) { return "../shared/" + rel; }
inline bool file_exists(const std::string& p) { std::ifstream f(p); return f.good(); }
// Scratch folder for test outputs (created by the harness users).
inline std::string scratch(const std::string& name) {
  const char* t = std::getenv("TMPDIR");
  return std::string(t ? t : "/tmp") + "/rwkvx-test-" + name;
}

}  // namespace testing

#define TEST_MAIN int main(int argc, char** argv) { return testing::run_all(argc, argv); }
