#include "kv_store.h"

#include <cstring>

#include "error.h"
#include "half.h"

namespace rwkvx {

namespace {
size_t elem_bytes(KvType t) { return t == KvType::F32 ? 4 : 2; }

void store_row(KvType t, const float* src, uint8_t* dst, int64_t n) {
  if (t == KvType::F32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * 4);
  } else {
    uint16_t* d = reinterpret_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = f32_to_fp16(src[i]);
  }
}

void load_row(KvType t, const uint8_t* src, float* dst, int64_t n) {
  if (t == KvType::F32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * 4);
  } else {
    const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(s[i]);
  }
}
}  // namespace

KvStore::Page& KvStore::writable_page(int64_t index) {
  auto& slot = pages_[static_cast<size_t>(index)];
  if (slot.use_count() > 1) slot = std::make_shared<Page>(*slot);  // copy on write
  return *slot;
}

void KvStore::recompute_sum(Page& p, int64_t rows) const {
  std::fill(p.ksum.begin(), p.ksum.end(), 0.f);
  std::vector<float> row(static_cast<size_t>(width_));
  const size_t rb = static_cast<size_t>(width_) * elem_bytes(type_);
  for (int64_t r = 0; r < rows; ++r) {
    load_row(type_, p.k.data() + rb * r, row.data(), width_);
    for (int64_t i = 0; i < width_; ++i) p.ksum[i] += row[i];
  }
}

void KvStore::append(const float* k, const float* v, int64_t T) {
  const size_t rb = static_cast<size_t>(width_) * elem_bytes(type_);
  std::vector<float> stored(static_cast<size_t>(width_));
  for (int64_t t = 0; t < T; ++t) {
    const int64_t page = n_ / chunk_, row = n_ % chunk_;
    if (page == n_pages()) {
      auto p = std::make_shared<Page>();
      p->k.resize(rb * chunk_);
      p->v.resize(rb * chunk_);
      p->ksum.assign(static_cast<size_t>(width_), 0.f);
      pages_.push_back(std::move(p));
    }
    Page& p = writable_page(page);
    store_row(type_, k + t * width_, p.k.data() + rb * row, width_);
    store_row(type_, v + t * width_, p.v.data() + rb * row, width_);
    // The sum is of the keys as stored, so means match what attention reads.
    load_row(type_, p.k.data() + rb * row, stored.data(), width_);
    for (int64_t i = 0; i < width_; ++i) p.ksum[i] += stored[i];
    ++n_;
  }
}

void KvStore::truncate(int64_t n) {
  if (n < 0 || n > n_) fail(RWKVX_ERR_INVALID_ARGUMENT, "KV truncate to %lld outside [0, %lld]", (long long)n, (long long)n_);
  if (n == n_) return;
  const int64_t keep_pages = (n + chunk_ - 1) / chunk_;
  pages_.resize(static_cast<size_t>(keep_pages));
  n_ = n;
  const int64_t rows = n % chunk_;
  if (rows != 0) recompute_sum(writable_page(keep_pages - 1), rows);
}

const void* KvStore::key_row(int64_t pos) const {
  const size_t rb = static_cast<size_t>(width_) * elem_bytes(type_);
  return pages_[static_cast<size_t>(pos / chunk_)]->k.data() + rb * (pos % chunk_);
}

const void* KvStore::value_row(int64_t pos) const {
  const size_t rb = static_cast<size_t>(width_) * elem_bytes(type_);
  return pages_[static_cast<size_t>(pos / chunk_)]->v.data() + rb * (pos % chunk_);
}

void KvStore::key(int64_t pos, float* out) const {
  load_row(type_, static_cast<const uint8_t*>(key_row(pos)), out, width_);
}

void KvStore::value(int64_t pos, float* out) const {
  load_row(type_, static_cast<const uint8_t*>(value_row(pos)), out, width_);
}

void KvStore::write_rows(std::vector<uint8_t>& out) const {
  const size_t rb = static_cast<size_t>(width_) * elem_bytes(type_);
  for (int64_t pos = 0; pos < n_; ++pos) {
    const uint8_t* k = static_cast<const uint8_t*>(key_row(pos));
    const uint8_t* v = static_cast<const uint8_t*>(value_row(pos));
    out.insert(out.end(), k, k + rb);
    out.insert(out.end(), v, v + rb);
  }
}

void KvStore::read_rows(const uint8_t* data, int64_t n) {
  clear();
  const size_t rb = static_cast<size_t>(width_) * elem_bytes(type_);
  std::vector<float> k(static_cast<size_t>(width_)), v(static_cast<size_t>(width_));
  for (int64_t pos = 0; pos < n; ++pos) {
    load_row(type_, data + 2 * rb * pos, k.data(), width_);
    load_row(type_, data + 2 * rb * pos + rb, v.data(), width_);
    append(k.data(), v.data(), 1);
  }
}

}  // namespace rwkvx
