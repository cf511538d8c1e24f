#include "session.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "error.h"
#include "serialize.h"

namespace rwkvx {

uint64_t hash_step(uint64_t h, int32_t token) {
  // FNV-1a over the token's four bytes, then a final mix so prefixes of
  // different lengths never collide trivially.
  for (int i = 0; i < 4; ++i) {
    h ^= static_cast<uint8_t>(static_cast<uint32_t>(token) >> (8 * i));
    h *= 0x100000001b3ull;
  }
  return h ^ (h >> 29);
}

namespace {
constexpr uint64_t kHashSeed = 0xcbf29ce484222325ull;
constexpr int kDefaultPrefillChunk = 128;
constexpr int64_t kDefaultAttnCtx = int64_t(1) << 20;
}  // namespace

Session::Session(const Model& model, Runtime& rt, const rwkvx_session_params& params)
    : Session(model, rt, params, nullptr) {}

Session::Session(const Model& model, Runtime& rt, const rwkvx_session_params& params, std::unique_ptr<Executor> exec)
    : model_(model), rt_(rt), params_(params), layout_(state_layout(model.hp)) {
  const HParams& hp = model.hp;
  if (params.n_ctx < 0) fail(RWKVX_ERR_INVALID_ARGUMENT, "n_ctx must be >= 0, got %lld", (long long)params.n_ctx);
  if (params.prefill_chunk < 0) fail(RWKVX_ERR_INVALID_ARGUMENT, "prefill_chunk must be >= 0");
  if (params.kv_type != RWKVX_KV_F32 && params.kv_type != RWKVX_KV_F16)
    fail(RWKVX_ERR_INVALID_ARGUMENT, "unknown kv_type %d", static_cast<int>(params.kv_type));
  n_ctx_ = params.n_ctx > 0 ? params.n_ctx : (hp.n_attn > 0 ? kDefaultAttnCtx : std::numeric_limits<int64_t>::max());
  prefill_chunk_ = params.prefill_chunk > 0 ? params.prefill_chunk : kDefaultPrefillChunk;
  last_logits_.assign(static_cast<size_t>(hp.n_vocab), 0.f);
  if (exec) {
    exec_ = std::move(exec);  // a fork: state and KV come with it
  } else {
    exec_ = make_executor(model, rt, params.kv_type);  // starts empty
    prefix_hash_.assign(1, kHashSeed);
  }
  if (params.prefill_chunk == 0 && exec_->preferred_chunk() > 0) prefill_chunk_ = exec_->preferred_chunk();
}

void Session::reset() {
  exec_->reset();
  tokens_.clear();
  prefix_hash_.assign(1, kHashSeed);
  has_logits_ = false;
}

bool Session::should_abort() const {
  if (abort_flag_.load()) return true;
  return params_.abort_callback != nullptr && params_.abort_callback(params_.abort_user_data) != 0;
}

void Session::push_tokens(const int32_t* tokens, int64_t T) {
  for (int64_t t = 0; t < T; ++t) {
    tokens_.push_back(tokens[t]);
    prefix_hash_.push_back(hash_step(prefix_hash_.back(), tokens[t]));
  }
}

void Session::feed(const int32_t* tokens, int64_t n, float* logits, bool all_logits, rwkvx_progress_fn progress,
                   void* progress_user_data) {
  const int64_t V = model_.hp.n_vocab;
  for (int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= V)
      fail(RWKVX_ERR_INVALID_ARGUMENT, "token id %d at index %lld is outside the vocabulary [0, %lld)", tokens[i],
           (long long)i, (long long)V);
  if (n_past() + n > n_ctx_)
    fail(RWKVX_ERR_CONTEXT_FULL, "feeding %lld tokens would exceed the session's n_ctx %lld (now %lld)", (long long)n,
         (long long)n_ctx_, (long long)n_past());
  for (int64_t done = 0; done < n;) {
    if (should_abort()) fail(RWKVX_ERR_ABORTED, "aborted after %lld of %lld tokens", (long long)done, (long long)n);
    const int64_t T = std::min<int64_t>(prefill_chunk_, n - done);
    const bool last = done + T == n;
    // Logits go straight to the caller's buffer where it wants them, else to
    // last_logits_; either way last_logits_ ends up holding the last row.
    float* out = last_logits_.data();
    if (all_logits) out = logits + done * V;
    else if (last && logits != nullptr) out = logits;
    exec_->forward(tokens + done, T, n_past(), out, all_logits);
    if (out != last_logits_.data())
      std::memcpy(last_logits_.data(), out + (all_logits ? (T - 1) * V : 0), static_cast<size_t>(V) * 4);
    has_logits_ = true;
    push_tokens(tokens + done, T);
    done += T;
    if (progress != nullptr && progress(static_cast<uint64_t>(done), static_cast<uint64_t>(n), progress_user_data) != 0 &&
        done < n)
      fail(RWKVX_ERR_ABORTED, "aborted by progress callback after %lld of %lld tokens", (long long)done, (long long)n);
  }
}

void Session::truncate(int64_t n) {
  if (n < 0 || n > n_past())
    fail(RWKVX_ERR_INVALID_ARGUMENT, "truncate to %lld outside [0, %lld]", (long long)n, (long long)n_past());
  exec_->truncate_kv(n);
  tokens_.resize(static_cast<size_t>(n));
  prefix_hash_.resize(static_cast<size_t>(n + 1));
  has_logits_ = false;
}

std::unique_ptr<Session> Session::fork() const {
  std::unique_ptr<Session> s(new Session(model_, rt_, params_, exec_->fork()));
  s->tokens_ = tokens_;
  s->prefix_hash_ = prefix_hash_;
  s->last_logits_ = last_logits_;
  s->has_logits_ = has_logits_;
  return s;
}

void Session::restore(const std::vector<float>& state, int64_t n, uint64_t hash) {
  if (static_cast<int64_t>(state.size()) != layout_.size())
    fail(RWKVX_ERR_STATE_MISMATCH, "snapshot state size does not match this model");
  if (n > n_past() || prefix_hash_[static_cast<size_t>(n)] != hash)
    fail(RWKVX_ERR_STATE_MISMATCH,
         "snapshot at %lld tokens does not match this session's token prefix (the session has %lld tokens%s)",
         (long long)n, (long long)n_past(), n > n_past() ? "" : " and a different prefix");
  truncate(n);
  exec_->write_state(state);
}

// Whole-session blob: header, state, tokens, KV rows per attention block,
// last logits, checksum.
std::vector<uint8_t> Session::save() const {
  ByteWriter w;
  w.magic("RWKVXSES");
  w.u32(1);
  w.u64(model_.fingerprint);
  w.i64(n_past());
  w.u32(static_cast<uint32_t>(params_.kv_type));
  w.floats(exec_->read_state());
  w.bytes(tokens_.data(), tokens_.size() * 4);
  const std::vector<uint8_t> kv = exec_->read_kv();
  w.u64(kv.size());
  w.bytes(kv.data(), kv.size());
  w.u8(has_logits_ ? 1 : 0);
  if (has_logits_) w.floats(last_logits_);
  w.finish_checksum();
  return w.take();
}

void Session::load(const uint8_t* data, size_t size) {
  ByteReader r(data, size, "session blob");
  r.verify_checksum();
  r.expect_magic("RWKVXSES");
  const uint32_t version = r.u32();
  if (version != 1) fail(RWKVX_ERR_FORMAT, "session blob version %u is not supported", version);
  if (r.u64() != model_.fingerprint) fail(RWKVX_ERR_STATE_MISMATCH, "session blob was saved with another model");
  const int64_t n = r.i64();
  if (n < 0 || n > n_ctx_) fail(RWKVX_ERR_FORMAT, "session blob has %lld tokens (n_ctx %lld)", (long long)n, (long long)n_ctx_);
  if (r.u32() != static_cast<uint32_t>(params_.kv_type))
    fail(RWKVX_ERR_STATE_MISMATCH, "session blob uses another KV cache type than this session");
  std::vector<float> state = r.floats();
  if (static_cast<int64_t>(state.size()) != layout_.size())
    fail(RWKVX_ERR_STATE_MISMATCH, "session blob state size does not match");
  std::vector<int32_t> tokens(static_cast<size_t>(n));
  r.read(tokens.data(), tokens.size() * 4);
  const int64_t V = model_.hp.n_vocab;
  for (int32_t t : tokens)
    if (t < 0 || t >= V) fail(RWKVX_ERR_FORMAT, "session blob holds token %d outside the vocabulary", t);
  const uint64_t kv_len = r.u64();
  if (kv_len != static_cast<uint64_t>(n) * exec_->kv_bytes_per_token()) fail(RWKVX_ERR_FORMAT, "session blob KV size mismatch");
  const uint8_t* kv = r.take(kv_len);
  const bool has_logits = r.u8() != 0;
  std::vector<float> logits;
  if (has_logits) {
    logits = r.floats();
    if (logits.size() != last_logits_.size()) fail(RWKVX_ERR_FORMAT, "session blob logits size mismatch");
  }
  r.expect_end();
  // Commit only after everything parsed: a bad blob leaves the session as it was.
  exec_->write_kv(kv, kv_len, n);
  exec_->write_state(state);
  tokens_.clear();
  prefix_hash_.assign(1, kHashSeed);
  push_tokens(tokens.data(), n);
  has_logits_ = has_logits;
  if (has_logits) last_logits_ = std::move(logits);
}

}  // namespace rwkvx
