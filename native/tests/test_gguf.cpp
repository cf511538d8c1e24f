// GGUF reader/writer: round trips of every value and tensor type, and every
// kind of corruption the reader must turn into an rwkvx::Error.
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>

#include "error.h"
#include "gguf.h"
#include "half.h"
#include "quant.h"
#include "testing.h"

using namespace rwkvx;

namespace {

// Per-process scratch names: ctest and a developer's run may overlap, and a
// file rewritten under another process's mapping would fault there.
std::string scratch(const std::string& name) { return testing::scratch(std::to_string(getpid()) + "-" + name); }


std::vector<uint8_t> read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

bool exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

template <class F>
rwkvx_status status_of(F&& f, std::string* msg = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (msg) *msg = e.what();
    return e.code();
  }
  return RWKVX_OK;
}

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::vector<float> ramp(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * std::sin(0.37f * static_cast<float>(i) + 0.1f);
  return v;
}

// A writer holding every metadata type and every tensor type.
GgufWriter full_writer() {
  GgufWriter w;
  w.set_str("general.architecture", "test");
  w.set_str("s.empty", "");
  w.set_str("s.utf8", "h\xc3\xa9llo \xf0\x9f\x98\x80");
  w.set_u32("n.u32", 4000000000u);
  w.set_i32("n.i32", -123456);
  w.set_u64("n.u64", 1ull << 40);
  w.set_f32("n.f32", 0.15625f);
  w.set_bool("n.bool", true);
  w.set_arr_str("a.str", {"a", "", "\\x00", "[PAD3]"});
  w.set_arr_i32("a.i32", {1, -2, 2147483647, -2147483647 - 1});
  w.set_arr_f32("a.f32", {1.5f, -0.25f, 1e30f});
  GgufValue v;
  v.type = GgufType::U8; v.i = 200; w.set_value("n.u8", v);
  v.type = GgufType::I8; v.i = -100; w.set_value("n.i8", v);
  v.type = GgufType::U16; v.i = 65000; w.set_value("n.u16", v);
  v.type = GgufType::I16; v.i = -32000; w.set_value("n.i16", v);
  v.type = GgufType::I64; v.i = -(1ll << 50); w.set_value("n.i64", v);
  v.type = GgufType::F64; v.f = 3.0000000001; w.set_value("n.f64", v);
  GgufValue a;
  a.type = GgufType::ARRAY;
  a.elem_type = GgufType::U8; a.arr_i = {0, 255, 7}; w.set_value("a.u8", a);
  a.elem_type = GgufType::BOOL; a.arr_i = {1, 0}; w.set_value("a.bool", a);
  a.elem_type = GgufType::U64; a.arr_i = {1ll << 62, 5}; w.set_value("a.u64", a);
  a.elem_type = GgufType::I16; a.arr_i = {-5, 5}; w.set_value("a.i16", a);
  a.elem_type = GgufType::F64; a.arr_i.clear(); a.arr_f = {0.1, -2e300}; w.set_value("a.f64", a);

  w.add_tensor("t.f32", DType::F32, {3}, f32_bytes({1.f, -2.f, 3.5f}));
  const std::vector<float> m = ramp(64 * 3, 2.f);
  std::vector<uint8_t> f16, bf16;
  for (float x : m) {
    uint16_t h = f32_to_fp16(x), b = f32_to_bf16(x);
    f16.insert(f16.end(), reinterpret_cast<uint8_t*>(&h), reinterpret_cast<uint8_t*>(&h) + 2);
    bf16.insert(bf16.end(), reinterpret_cast<uint8_t*>(&b), reinterpret_cast<uint8_t*>(&b) + 2);
  }
  w.add_tensor("t.f16", DType::F16, {64, 3}, f16);
  w.add_tensor("t.bf16", DType::BF16, {16, 2, 2, 3}, bf16);
  std::vector<uint8_t> q;
  for (int r = 0; r < 3; ++r) {
    std::vector<uint8_t> row = encode_row(DType::Q8_0, m.data() + r * 64, 64);
    q.insert(q.end(), row.begin(), row.end());
  }
  w.add_tensor("t.q8", DType::Q8_0, {64, 3}, q);
  w.add_tensor("t.4d", DType::F32, {2, 1, 1, 2}, f32_bytes({1, 2, 3, 4}));
  return w;
}

void check_full(const GgufReader& g) {
  CHECK(g.version() == 3);
  CHECK(g.get_str("general.architecture") == "test");
  CHECK(g.get_str("s.empty", "x").empty());
  CHECK(g.get_str("s.utf8") == "h\xc3\xa9llo \xf0\x9f\x98\x80");
  CHECK(g.get_str("missing", "def") == "def");
  CHECK(g.get_int("n.u32", 0) == 4000000000ll);
  CHECK(g.get_int("n.i32", 0) == -123456);
  CHECK(g.get_int("n.u64", 0) == (1ll << 40));
  CHECK(g.get_float("n.f32", 0) == 0.15625);
  CHECK(g.get_int("n.bool", 0) == 1);
  CHECK(g.get_int("n.u8", 0) == 200);
  CHECK(g.get_int("n.i8", 0) == -100);
  CHECK(g.get_int("n.u16", 0) == 65000);
  CHECK(g.get_int("n.i16", 0) == -32000);
  CHECK(g.get_int("n.i64", 0) == -(1ll << 50));
  CHECK(g.get_float("n.f64", 0) == 3.0000000001);
  CHECK(g.get_float("n.i32", 0) == -123456.0);  // any numeric type reads as a float
  CHECK(g.get_int("missing", 77) == 77);
  const GgufValue* s = g.get("a.str");
  REQUIRE(s && s->type == GgufType::ARRAY && s->elem_type == GgufType::STRING);
  CHECK((s->arr_str == std::vector<std::string>{"a", "", "\\x00", "[PAD3]"}));
  CHECK(s->arr_len == 4);
  const GgufValue* i = g.get("a.i32");
  REQUIRE(i && i->elem_type == GgufType::I32);
  CHECK((i->arr_i == std::vector<int64_t>{1, -2, 2147483647, -2147483648ll}));
  const GgufValue* f = g.get("a.f32");
  REQUIRE(f && f->elem_type == GgufType::F32);
  CHECK((f->arr_f == std::vector<double>{1.5, -0.25, static_cast<double>(1e30f)}));
  CHECK((g.get("a.u8")->arr_i == std::vector<int64_t>{0, 255, 7}));
  CHECK((g.get("a.bool")->arr_i == std::vector<int64_t>{1, 0}));
  CHECK((g.get("a.u64")->arr_i == std::vector<int64_t>{1ll << 62, 5}));
  CHECK((g.get("a.i16")->arr_i == std::vector<int64_t>{-5, 5}));
  CHECK((g.get("a.f64")->arr_f == std::vector<double>{0.1, -2e300}));

  REQUIRE(g.tensors().size() == 5);
  const TensorView* t = g.find("t.f32");
  REQUIRE(t && t->type == DType::F32 && t->n_dims == 1 && t->ne[0] == 3 && t->nbytes == 12);
  CHECK((tensor_to_f32(*t) == std::vector<float>{1.f, -2.f, 3.5f}));
  const std::vector<float> m = ramp(64 * 3, 2.f);
  const TensorView* h = g.find("t.f16");
  REQUIRE(h && h->type == DType::F16 && h->ne[0] == 64 && h->ne[1] == 3 && h->nbytes == 64 * 3 * 2);
  CHECK(testing::rel_err(tensor_to_f32(*h).data(), m.data(), m.size()) < 1e-3);
  const TensorView* b = g.find("t.bf16");
  REQUIRE(b && b->type == DType::BF16 && b->n_dims == 4 && b->ne[3] == 3 && b->nelements() == 192);
  CHECK(testing::rel_err(tensor_to_f32(*b).data(), m.data(), m.size()) < 1e-2);
  const TensorView* q = g.find("t.q8");
  REQUIRE(q && q->type == DType::Q8_0 && q->nbytes == 3 * 2 * 34);
  CHECK(testing::rel_err(tensor_to_f32(*q).data(), m.data(), m.size()) < 1e-2);
  const TensorView* d4 = g.find("t.4d");
  REQUIRE(d4 && d4->n_dims == 4 && d4->ne[0] == 2 && d4->ne[1] == 1 && d4->ne[2] == 1 && d4->ne[3] == 2);
  for (const TensorView& tv : g.tensors()) CHECK(reinterpret_cast<uintptr_t>(tv.data) % 32 == 0);
  CHECK(g.find("nope") == nullptr);
}

// Little-endian byte builder for hand-made (and broken) GGUF files.
struct Raw {
  std::vector<uint8_t> b;
  Raw& u8(uint8_t v) { b.push_back(v); return *this; }
  Raw& u32(uint32_t v) { b.insert(b.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 4); return *this; }
  Raw& u64(uint64_t v) { b.insert(b.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 8); return *this; }
  Raw& str(const std::string& s) { u64(s.size()); b.insert(b.end(), s.begin(), s.end()); return *this; }
  Raw& pad(size_t a) { while (b.size() % a) b.push_back(0); return *this; }
  Raw& zeros(size_t n) { b.insert(b.end(), n, 0); return *this; }
};

// Header with the given counts; then the caller appends KVs and tensor infos.
Raw header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
  Raw r;
  r.u32(0x46554747u).u32(version).u64(n_tensors).u64(n_kv);
  return r;
}

// One tensor info.
void tinfo(Raw& r, const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
  r.str(name).u32(static_cast<uint32_t>(ne.size()));
  for (uint64_t d : ne) r.u64(d);
  r.u32(type).u64(offset);
}

rwkvx_status parse(const std::vector<uint8_t>& b, std::string* msg = nullptr) {
  return status_of([&] { GgufReader::from_memory(b.data(), b.size()); }, msg);
}

}  // namespace

TEST(round_trip_every_type_mmap_read_memory) {
  const std::string path = scratch("gguf-full.gguf");
  full_writer().write(path);
  CHECK(!exists(path + ".tmp"));
  check_full(*GgufReader::open(path, true));
  check_full(*GgufReader::open(path, false));
  const std::vector<uint8_t> bytes = read_file(path);
  check_full(*GgufReader::from_memory(bytes.data(), bytes.size()));
  // Tensor data sits at 32-byte aligned offsets after the header.
  CHECK(bytes.size() % 32 == 0);
  std::remove(path.c_str());
}

TEST(writer_replaces_a_key_and_rejects_bad_tensors) {
  GgufWriter w;
  w.set_u32("k", 1);
  w.set_str("k", "two");
  w.add_tensor("t", DType::F32, {2}, f32_bytes({1, 2}));
  CHECK(status_of([&] { w.add_tensor("t", DType::F32, {2}, f32_bytes({1, 2})); }) == RWKVX_ERR_INVALID_ARGUMENT);
  CHECK(status_of([&] { w.add_tensor("u", DType::F32, {3}, f32_bytes({1, 2})); }) == RWKVX_ERR_INVALID_ARGUMENT);
  CHECK(status_of([&] { w.add_tensor("q", DType::Q8_0, {16}, std::vector<uint8_t>(17)); }) == RWKVX_ERR_SHAPE);
  CHECK(status_of([&] { w.add_tensor("d", DType::F32, {1, 1, 1, 1, 1}, f32_bytes({1})); }) == RWKVX_ERR_INVALID_ARGUMENT);
  const std::string path = scratch("gguf-replace.gguf");
  w.write(path);
  auto g = GgufReader::open(path, true);
  CHECK(g->metadata().size() == 1);
  CHECK(g->get_str("k") == "two");
  std::remove(path.c_str());
}

TEST(writer_is_atomic) {
  // Unwritable destination: IO error, nothing left behind.
  GgufWriter w;
  w.set_u32("k", 1);
  const std::string bad = scratch("no-such-dir/x.gguf");
  CHECK(status_of([&] { w.write(bad); }) == RWKVX_ERR_IO);
  CHECK(!exists(bad + ".tmp"));
  // A producer that throws midway: the old file stays as it was, no .tmp.
  const std::string path = scratch("gguf-atomic.gguf");
  GgufWriter ok;
  ok.set_str("version", "old");
  ok.write(path);
  GgufWriter w2;
  w2.set_str("version", "new");
  w2.add_tensor_deferred("a", DType::F32, {2}, [] { return f32_bytes({1, 2}); });
  w2.add_tensor_deferred("b", DType::F32, {2}, []() -> std::vector<uint8_t> { fail(RWKVX_ERR_ABORTED, "stop"); });
  CHECK(status_of([&] { w2.write(path); }) == RWKVX_ERR_ABORTED);
  CHECK(!exists(path + ".tmp"));
  CHECK(GgufReader::open(path, true)->get_str("version") == "old");
  // A producer returning the wrong size is an internal error, also atomic.
  GgufWriter w3;
  w3.add_tensor_deferred("a", DType::F32, {2}, [] { return f32_bytes({1}); });
  CHECK(status_of([&] { w3.write(path); }) == RWKVX_ERR_INTERNAL);
  CHECK(!exists(path + ".tmp"));
  // Deferred data round-trips.
  GgufWriter w4;
  w4.add_tensor_deferred("a", DType::F32, {3}, [] { return f32_bytes({7, 8, 9}); });
  w4.write(path);
  CHECK((tensor_to_f32(*GgufReader::open(path, false)->find("a")) == std::vector<float>{7, 8, 9}));
  std::remove(path.c_str());
}

TEST(typed_getters_reject_wrong_types) {
  GgufWriter w;
  w.set_str("s", "x");
  w.set_f32("f", 1.f);
  w.set_u64("big", ~0ull);
  w.set_arr_i32("arr", {1});
  const std::string path = scratch("gguf-types.gguf");
  w.write(path);
  auto g = GgufReader::open(path, true);
  CHECK(status_of([&] { g->get_int("s", 0); }) == RWKVX_ERR_FORMAT);
  CHECK(status_of([&] { g->get_int("f", 0); }) == RWKVX_ERR_FORMAT);
  CHECK(status_of([&] { g->get_str("f"); }) == RWKVX_ERR_FORMAT);
  CHECK(status_of([&] { g->get_float("s", 0); }) == RWKVX_ERR_FORMAT);
  CHECK(status_of([&] { g->get_int("arr", 0); }) == RWKVX_ERR_FORMAT);
  CHECK(status_of([&] { g->get_int("big", 0); }) == RWKVX_ERR_FORMAT);  // does not fit int64
  std::remove(path.c_str());
}

TEST(version_2_and_nested_arrays_are_read) {
  Raw r = header(1, 3, 2);
  r.str("general.alignment").u32(4).u32(64);
  // array of 2 arrays: [[1,2],[3]] of i32, then array of arrays of strings.
  r.str("nested").u32(9).u32(9).u64(2);
  r.u32(5).u64(2).u32(1).u32(2);
  r.u32(5).u64(1).u32(3);
  r.str("nested.str").u32(9).u32(9).u64(1).u32(8).u64(2).str("ab").str("");
  tinfo(r, "w", {4}, 0, 0);
  r.pad(64).zeros(16);
  auto g = GgufReader::from_memory(r.b.data(), r.b.size());
  CHECK(g->version() == 2);
  const GgufValue* n = g->get("nested");
  REQUIRE(n != nullptr);
  CHECK(n->type == GgufType::ARRAY && n->elem_type == GgufType::ARRAY && n->arr_len == 2);
  CHECK((tensor_to_f32(*g->find("w")) == std::vector<float>{0, 0, 0, 0}));
  // The data section starts at the 64-byte boundary.
  const size_t data_start = r.b.size() - 16;
  CHECK(data_start % 64 == 0);
}

TEST(bad_header_fields) {
  std::string msg;
  // Bad magic.
  Raw r;
  r.u32(0x46554748u).u32(3).u64(0).u64(0);
  CHECK(parse(r.b, &msg) == RWKVX_ERR_FORMAT);
  CHECK(msg.find("not a GGUF") != std::string::npos);
  // Versions.
  CHECK(parse(header(0, 0, 1).b, &msg) == RWKVX_ERR_UNSUPPORTED);
  CHECK(parse(header(0, 0, 4).b, &msg) == RWKVX_ERR_UNSUPPORTED);
  CHECK(msg.find("version 4") != std::string::npos);
  CHECK(parse(header(0, 0, 0x03000000u).b, &msg) == RWKVX_ERR_UNSUPPORTED);
  CHECK(msg.find("big-endian") != std::string::npos);
  // Empty and tiny inputs.
  CHECK(parse({}) == RWKVX_ERR_FORMAT);
  CHECK(parse({'G', 'G'}) == RWKVX_ERR_FORMAT);
  // The smallest valid file.
  CHECK(parse(header(0, 0).b) == RWKVX_OK);
  // Huge counts.
  CHECK(parse(header(~0ull, 0).b, &msg) == RWKVX_ERR_FORMAT);
  CHECK(parse(header(0, ~0ull).b, &msg) == RWKVX_ERR_FORMAT);
  CHECK(parse(header(1ull << 40, 1ull << 40).b, &msg) == RWKVX_ERR_FORMAT);
}

TEST(bad_metadata) {
  std::string msg;
  {  // string length past the end
    Raw r = header(0, 1);
    r.u64(1ull << 62).zeros(8);
    CHECK(parse(r.b, &msg) == RWKVX_ERR_FORMAT);
    CHECK(msg.find("truncated") != std::string::npos);
  }
  {  // unknown value type
    Raw r = header(0, 1);
    r.str("k").u32(13).u32(0);
    CHECK(parse(r.b, &msg) == RWKVX_ERR_FORMAT);
    CHECK(msg.find("'k'") != std::string::npos);
  }
  {  // array count past the end, for scalars and strings
    Raw r = header(0, 1);
    r.str("k").u32(9).u32(5).u64(1ull << 61).u32(1);
    CHECK(parse(r.b, &msg) == RWKVX_ERR_FORMAT);
    Raw s = header(0, 1);
    s.str("k").u32(9).u32(8).u64(~0ull);
    CHECK(parse(s.b, &msg) == RWKVX_ERR_FORMAT);
  }
  {  // unknown array element type
    Raw r = header(0, 1);
    r.str("k").u32(9).u32(99).u64(0);
    CHECK(parse(r.b, &msg) == RWKVX_ERR_FORMAT);
  }
  {  // arrays nested too deep
    Raw r = header(0, 1);
    r.str("k").u32(9);
    for (int d = 0; d < 40; ++d) r.u32(9).u64(1);
    r.u32(5).u64(0);
    CHECK(parse(r.b, &msg) == RWKVX_ERR_FORMAT);
    CHECK(msg.find("nested") != std::string::npos);
  }
  {  // duplicate key
    Raw r = header(0, 2);
    r.str("k").u32(4).u32(1).str("k").u32(4).u32(2);
    CHECK(parse(r.b, &msg) == RWKVX_ERR_FORMAT);
    CHECK(msg.find("duplicate") != std::string::npos);
  }
  for (uint32_t a : {0u, 3u, 48u, 1u << 30}) {  // alignment not a power of two (or absurd)
    Raw r = header(0, 1);
    r.str("general.alignment").u32(4).u32(a);
    CHECK(parse(r.b) == RWKVX_ERR_FORMAT);
  }
  {  // alignment of the wrong type
    Raw r = header(0, 1);
    r.str("general.alignment").u32(8).str("32");
    CHECK(parse(r.b) == RWKVX_ERR_FORMAT);
  }
}

TEST(bad_tensor_infos) {
  std::string msg;
  auto one = [&](const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t off, size_t data) {
    Raw r = header(1, 0);
    tinfo(r, name, ne, type, off);
    r.pad(32).zeros(data);
    return parse(r.b, &msg);
  };
  CHECK(one("ok", {8}, 0, 0, 32) == RWKVX_OK);
  // Unknown tensor type: UNSUPPORTED, naming the tensor and the type id.
  CHECK(one("blk.0.q4", {32}, 2, 0, 32) == RWKVX_ERR_UNSUPPORTED);
  CHECK(msg.find("blk.0.q4") != std::string::npos && msg.find("type 2") != std::string::npos && msg.find("Q4_0") != std::string::npos);
  CHECK(one("x", {8}, 12345, 0, 32) == RWKVX_ERR_UNSUPPORTED);
  // Dimensions.
  CHECK(one("x", {}, 0, 0, 32) == RWKVX_ERR_FORMAT);
  CHECK(one("x", {8, 0}, 0, 0, 32) == RWKVX_ERR_FORMAT);
  CHECK(msg.find("empty dimension") != std::string::npos);
  CHECK(one("x", {1, 1, 1, 1, 1}, 0, 0, 32) == RWKVX_ERR_FORMAT);
  // Element count overflow in the product and in the byte size.
  CHECK(one("x", {1ull << 32, 1ull << 32}, 0, 0, 32) == RWKVX_ERR_FORMAT);
  CHECK(msg.find("overflow") != std::string::npos);
  CHECK(one("x", {~0ull}, 0, 0, 32) == RWKVX_ERR_FORMAT);
  CHECK(one("x", {1ull << 62}, 0, 0, 32) == RWKVX_ERR_FORMAT);
  // Data out of range / misaligned.
  CHECK(one("x", {16}, 0, 0, 32) == RWKVX_ERR_FORMAT);
  CHECK(msg.find("past the end") != std::string::npos);
  CHECK(one("x", {8}, 0, 32, 32) == RWKVX_ERR_FORMAT);
  CHECK(one("x", {8}, 0, ~0ull - 31, 32) == RWKVX_ERR_FORMAT);
  CHECK(one("x", {8}, 0, 4, 64) == RWKVX_ERR_FORMAT);
  CHECK(msg.find("alignment") != std::string::npos);
  // Q8_0 rows must be whole blocks.
  CHECK(one("q", {33}, 8, 0, 64) == RWKVX_ERR_FORMAT);
  CHECK(one("q", {32}, 8, 0, 34) == RWKVX_OK);
  // Duplicate names and overlapping data.
  {
    Raw r = header(2, 0);
    tinfo(r, "a", {8}, 0, 0);
    tinfo(r, "a", {8}, 0, 32);
    r.pad(32).zeros(64);
    CHECK(parse(r.b, &msg) == RWKVX_ERR_FORMAT);
    CHECK(msg.find("duplicate tensor name 'a'") != std::string::npos);
  }
  {
    Raw r = header(2, 0);
    tinfo(r, "a", {16}, 0, 0);
    tinfo(r, "b", {8}, 0, 32);
    r.pad(32).zeros(96);
    CHECK(parse(r.b, &msg) == RWKVX_ERR_FORMAT);
    CHECK(msg.find("overlap") != std::string::npos);
  }
}

TEST(truncation_at_every_offset) {
  const std::string path = scratch("gguf-trunc.gguf");
  full_writer().write(path);
  const std::vector<uint8_t> bytes = read_file(path);
  std::remove(path.c_str());
  size_t first_ok = bytes.size();
  int errors = 0;
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    const rwkvx_status st = parse(part);
    if (st == RWKVX_OK) first_ok = std::min(first_ok, cut);
    else {
      CHECK(st == RWKVX_ERR_FORMAT);
      ++errors;
    }
  }
  // Every cut fails until the padding after the last tensor's data.
  CHECK(errors > 0);
  CHECK(bytes.size() - first_ok < 32);
}

TEST(random_corruption_never_crashes) {
  const std::string path = scratch("gguf-corrupt.gguf");
  full_writer().write(path);
  const std::vector<uint8_t> bytes = read_file(path);
  std::remove(path.c_str());
  std::mt19937 rng(12345);
  int ok = 0, err = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<uint8_t> b = bytes;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n; ++k) {
      const size_t at = rng() % b.size();
      switch (rng() % 3) {
        case 0: b[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 1: b[at] = static_cast<uint8_t>(rng()); break;
        default: b[at] = (rng() & 1) ? 0xff : 0x00; break;
      }
    }
    try {
      auto g = GgufReader::from_memory(b.data(), b.size());
      // Whatever parsed must be readable within the buffer.
      for (const TensorView& t : g->tensors()) {
        if (t.nelements() <= 4096) (void)tensor_to_f32(t);
      }
      ++ok;
    } catch (const Error&) {
      ++err;
    }
  }
  std::printf("  random corruption: %d parsed, %d rejected\n", ok, err);
  CHECK(err > 0);
}

TEST(open_errors) {
  std::string msg;
  CHECK(status_of([] { GgufReader::open("/nonexistent/file.gguf", true); }, &msg) == RWKVX_ERR_IO);
  CHECK(msg.find("/nonexistent/file.gguf") != std::string::npos);
  CHECK(status_of([] { GgufReader::open("/tmp", true); }) == RWKVX_ERR_IO);
  const std::string empty = scratch("gguf-empty.gguf");
  { std::ofstream f(empty); }
  CHECK(status_of([&] { GgufReader::open(empty, true); }) == RWKVX_ERR_FORMAT);
  CHECK(status_of([&] { GgufReader::open(empty, false); }) == RWKVX_ERR_FORMAT);
  std::remove(empty.c_str());
}

TEST_MAIN
