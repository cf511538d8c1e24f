// The C ABI: handles, status codes, last-error text. Every entry point catches
// everything: no C++ exception crosses this boundary.
#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "convert.h"
#include "error.h"
#include "gguf.h"
#include "model.h"
#include "rwkvx.h"
#include "sampler.h"
#include "serialize.h"
#include "session.h"
#include "tokenizer.h"
#if RWKVX_CUDA
#include "cuda/cuda_backend.h"
#endif

using namespace rwkvx;

struct rwkvx_model {
  std::unique_ptr<Model> model;
  std::unique_ptr<Runtime> rt;
  std::string device;
  std::string device_note;
};

struct rwkvx_session {
  std::unique_ptr<Session> s;
};

struct rwkvx_snapshot {
  uint64_t fingerprint;
  int64_t n_past;
  uint64_t hash;
  std::vector<float> state;
};

struct rwkvx_detok {
  const Model* model;
  Utf8Stream stream;
  std::string out;
};

struct rwkvx_sampler {
  Sampler s;
};

namespace {

thread_local std::string t_last_error;

template <typename F>
rwkvx_status guarded(F&& f) {
  try {
    f();
    t_last_error.clear();
    return RWKVX_OK;
  } catch (const Error& e) {
    t_last_error = e.what();
    return e.code();
  } catch (const std::bad_alloc&) {
    t_last_error = "out of memory";
    return RWKVX_ERR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    t_last_error = std::string("internal error: ") + e.what();
    return RWKVX_ERR_INTERNAL;
  } catch (...) {
    t_last_error = "internal error";
    return RWKVX_ERR_INTERNAL;
  }
}

// Ends a call on a session: a pending abort is consumed by the call it hit,
// or by the next call if it arrived while none was running.
struct CallScope {
  explicit CallScope(Session& s) : s(s) {}
  ~CallScope() { s.end_call(); }
  Session& s;
};

void need(const void* p, const char* what) {
  if (p == nullptr) fail(RWKVX_ERR_INVALID_ARGUMENT, "%s must not be null", what);
}

void copy_str(char* dst, size_t cap, const std::string& src) {
  const size_t n = std::min(cap - 1, src.size());
  std::memcpy(dst, src.data(), n);
  dst[n] = '\0';
}

}  // namespace

extern "C" {

const char* rwkvx_last_error(void) { return t_last_error.c_str(); }

const char* rwkvx_status_name(rwkvx_status s) {
  switch (s) {
    case RWKVX_OK: return "OK";
    case RWKVX_ERR_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case RWKVX_ERR_IO: return "IO";
    case RWKVX_ERR_FORMAT: return "FORMAT";
    case RWKVX_ERR_UNSUPPORTED: return "UNSUPPORTED";
    case RWKVX_ERR_SHAPE: return "SHAPE";
    case RWKVX_ERR_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
    case RWKVX_ERR_ABORTED: return "ABORTED";
    case RWKVX_ERR_STATE_MISMATCH: return "STATE_MISMATCH";
    case RWKVX_ERR_CONTEXT_FULL: return "CONTEXT_FULL";
    case RWKVX_ERR_DEVICE: return "DEVICE";
    case RWKVX_ERR_INTERNAL: return "INTERNAL";
  }
  return "UNKNOWN";
}

int rwkvx_abi_version(void) { return RWKVX_ABI_VERSION; }

const char* rwkvx_build_info(void) {
  static const std::string info = std::string("rwkvx engine abi ") + std::to_string(RWKVX_ABI_VERSION) +
                                  "; cpu kernels: " + kernels().name +
#if RWKVX_CUDA
                                  "; backends: cpu, cuda";
#else
                                  "; backends: cpu";
#endif
  return info.c_str();
}

/* ---------------------------------------------------------------- model */

rwkvx_model_params rwkvx_model_default_params(void) {
  rwkvx_model_params p{};
  p.device = RWKVX_DEVICE_AUTO;
  p.device_index = 0;
  p.n_threads = 0;
  p.use_mmap = 1;
  return p;
}

rwkvx_status rwkvx_model_load(const char* path, const rwkvx_model_params* params, rwkvx_model** out) {
  return guarded([&] {
    need(path, "path");
    need(out, "out_model");
    *out = nullptr;
    const rwkvx_model_params p = params ? *params : rwkvx_model_default_params();
    if (p.n_threads < 0) fail(RWKVX_ERR_INVALID_ARGUMENT, "n_threads must be >= 0");
    std::string note;
    switch (p.device) {
#if RWKVX_CUDA
      case RWKVX_DEVICE_AUTO: break;
      case RWKVX_DEVICE_CUDA: {
        const cuda::Probe pr = cuda::probe(p.device_index);  // fail before reading the file
        if (!pr.ok) fail(RWKVX_ERR_DEVICE, "device cuda:%d requested but no usable GPU: %s", p.device_index, pr.why.c_str());
        break;
      }
#else
      case RWKVX_DEVICE_AUTO: note = "CUDA backend not built into this engine; using the CPU"; break;
      case RWKVX_DEVICE_CUDA: fail(RWKVX_ERR_UNSUPPORTED, "device cuda:%d requested but this engine has no CUDA backend", p.device_index);
#endif
      case RWKVX_DEVICE_CPU: break;
      default: fail(RWKVX_ERR_INVALID_ARGUMENT, "unknown device kind %d", static_cast<int>(p.device));
    }
    auto m = std::make_unique<rwkvx_model>();
    m->model = load_model(path, p.use_mmap != 0);
    // Mapping is instant and validation fast: progress is reported once, done.
    const uint64_t n_tensors = m->model->file ? m->model->file->tensors().size() : 0;
    if (p.progress != nullptr && p.progress(n_tensors, n_tensors, p.progress_user_data) != 0)
      fail(RWKVX_ERR_ABORTED, "model load aborted by the progress callback");
    const int threads = p.n_threads > 0 ? p.n_threads : default_thread_count();
    m->rt = std::make_unique<Runtime>(threads);
    m->rt->kernels = &kernels();
    m->device = std::string("CPU (") + m->rt->kernels->name + ", " + std::to_string(threads) + " threads)";
#if RWKVX_CUDA
    // AUTO takes the GPU when one is usable and the model fits, else says why not.
    if (p.device != RWKVX_DEVICE_CPU) {
      const cuda::Probe pr = cuda::probe(p.device_index);
      if (pr.ok) {
        try {
          m->rt->backend = cuda::make_backend(*m->model, p.device_index, &note);
          m->device = pr.name + " (cuda:" + std::to_string(p.device_index) + ")";
        } catch (const Error& e) {
          if (p.device == RWKVX_DEVICE_CUDA) throw;
          note = std::string("CUDA not used (") + e.what() + "); using the CPU";
        }
      } else if (p.device == RWKVX_DEVICE_CUDA) {
        fail(RWKVX_ERR_DEVICE, "device cuda:%d requested but no usable GPU: %s", p.device_index, pr.why.c_str());
      } else {
        note = "no usable GPU (" + pr.why + "); using the CPU";
      }
    }
#endif
    m->device_note = note;
    *out = m.release();
  });
}

void rwkvx_model_free(rwkvx_model* m) { delete m; }

rwkvx_status rwkvx_model_get_info(const rwkvx_model* m, rwkvx_model_info* out) {
  return guarded([&] {
    need(m, "model");
    need(out, "out");
    const Model& md = *m->model;
    const HParams& hp = md.hp;
    rwkvx_model_info i{};
    copy_str(i.architecture, sizeof i.architecture, hp.arch == Arch::RwkvX ? "rwkvx" : "rwkv7");
    copy_str(i.name, sizeof i.name, md.name);
    i.n_embd = hp.n_embd;
    i.n_layer = hp.n_layer;
    i.n_attn_layer = hp.n_attn;
    i.n_head = hp.n_head;
    i.head_size = hp.head_size;
    i.n_ffn = hp.n_ffn;
    i.n_vocab = hp.n_vocab;
    i.attn_chunk_size = hp.n_attn > 0 ? hp.attn_chunk : 0;
    i.attn_top_k = hp.n_attn > 0 ? hp.attn_top_k : 0;
    i.n_params = md.n_params;
    i.weight_bytes = md.weight_bytes;
    i.state_bytes = static_cast<uint64_t>(state_layout(hp).size()) * 4;
    i.kv_bytes_per_token = static_cast<uint64_t>(hp.n_attn) * hp.n_embd * 2 * 4;
    i.train_context_length = hp.context_length;
    copy_str(i.device, sizeof i.device, m->device);
    copy_str(i.device_note, sizeof i.device_note, m->device_note);
    *out = i;
  });
}

rwkvx_status rwkvx_model_meta_str(const rwkvx_model* m, const char* key, const char** out) {
  return guarded([&] {
    need(m, "model");
    need(key, "key");
    need(out, "out");
    const GgufValue* v = m->model->file ? m->model->file->get(key) : nullptr;
    if (v == nullptr || v->type != GgufType::STRING) fail(RWKVX_ERR_INVALID_ARGUMENT, "no string metadata '%s'", key);
    *out = v->str.c_str();
  });
}

/* ------------------------------------------------------------ tokenizer */

rwkvx_status rwkvx_tokenize(const rwkvx_model* m, const char* text, size_t len, int32_t* tokens, size_t capacity,
                            size_t* n_tokens) {
  return guarded([&] {
    need(m, "model");
    need(n_tokens, "n_tokens");
    if (len > 0) need(text, "text");
    const std::vector<int32_t> ids = m->model->tokenizer.encode(text, len);
    *n_tokens = ids.size();
    if (tokens == nullptr) return;
    if (capacity < ids.size())
      fail(RWKVX_ERR_INVALID_ARGUMENT, "token buffer holds %zu, need %zu", capacity, ids.size());
    std::copy(ids.begin(), ids.end(), tokens);
  });
}

rwkvx_status rwkvx_token_bytes(const rwkvx_model* m, int32_t token, const char** out, size_t* len) {
  return guarded([&] {
    need(m, "model");
    need(out, "out");
    need(len, "len");
    const Tokenizer& t = m->model->tokenizer;
    if (token < 0 || token >= t.n_vocab()) fail(RWKVX_ERR_INVALID_ARGUMENT, "token %d outside [0, %d)", token, t.n_vocab());
    const std::string& b = t.bytes(token);
    *out = b.data();
    *len = b.size();
  });
}

rwkvx_status rwkvx_detok_new(const rwkvx_model* m, rwkvx_detok** out) {
  return guarded([&] {
    need(m, "model");
    need(out, "out");
    *out = new rwkvx_detok{m->model.get(), {}, {}};
  });
}

rwkvx_status rwkvx_detok_push(rwkvx_detok* d, int32_t token, const char** out, size_t* len) {
  return guarded([&] {
    need(d, "detok");
    need(out, "out");
    need(len, "len");
    const Tokenizer& t = d->model->tokenizer;
    if (token < 0 || token >= t.n_vocab()) fail(RWKVX_ERR_INVALID_ARGUMENT, "token %d outside [0, %d)", token, t.n_vocab());
    d->out = d->stream.push(t.bytes(token));
    *out = d->out.data();
    *len = d->out.size();
  });
}

rwkvx_status rwkvx_detok_flush(rwkvx_detok* d, const char** out, size_t* len) {
  return guarded([&] {
    need(d, "detok");
    need(out, "out");
    need(len, "len");
    d->out = d->stream.flush();
    *out = d->out.data();
    *len = d->out.size();
  });
}

void rwkvx_detok_free(rwkvx_detok* d) { delete d; }

/* -------------------------------------------------------------- session */

rwkvx_session_params rwkvx_session_default_params(void) {
  rwkvx_session_params p{};
  p.n_ctx = 0;
  p.kv_type = RWKVX_KV_F16;  // half the memory and bandwidth; tests that need exactness ask for F32
  p.prefill_chunk = 0;
  return p;
}

rwkvx_status rwkvx_session_new(rwkvx_model* m, const rwkvx_session_params* params, rwkvx_session** out) {
  return guarded([&] {
    need(m, "model");
    need(out, "out");
    *out = nullptr;
    const rwkvx_session_params p = params ? *params : rwkvx_session_default_params();
    auto s = std::make_unique<rwkvx_session>();
    s->s = std::make_unique<Session>(*m->model, *m->rt, p);
    *out = s.release();
  });
}

void rwkvx_session_free(rwkvx_session* s) { delete s; }

void rwkvx_session_abort(rwkvx_session* s) {
  if (s != nullptr) s->s->request_abort();
}

rwkvx_status rwkvx_session_reset(rwkvx_session* s) {
  return guarded([&] {
    need(s, "session");
    s->s->reset();
  });
}

int64_t rwkvx_session_n_past(const rwkvx_session* s) { return s ? s->s->n_past() : -1; }

rwkvx_status rwkvx_session_prefill(rwkvx_session* s, const int32_t* tokens, size_t n, float* logits,
                                   rwkvx_progress_fn progress, void* progress_user_data) {
  return guarded([&] {
    need(s, "session");
    if (n > 0) need(tokens, "tokens");
    CallScope call(*s->s);
    s->s->feed(tokens, static_cast<int64_t>(n), nullptr, false, progress, progress_user_data);
    if (logits != nullptr) {
      if (!s->s->has_logits()) fail(RWKVX_ERR_INVALID_ARGUMENT, "no logits: the session has no tokens since its last rewind");
      std::copy(s->s->last_logits().begin(), s->s->last_logits().end(), logits);
    }
  });
}

rwkvx_status rwkvx_session_prefill_all_logits(rwkvx_session* s, const int32_t* tokens, size_t n, float* out) {
  return guarded([&] {
    need(s, "session");
    need(tokens, "tokens");
    need(out, "out");
    CallScope call(*s->s);
    s->s->feed(tokens, static_cast<int64_t>(n), out, true, nullptr, nullptr);
  });
}

rwkvx_status rwkvx_session_decode(rwkvx_session* s, int32_t token, float* logits) {
  return guarded([&] {
    need(s, "session");
    need(logits, "logits");
    CallScope call(*s->s);
    s->s->feed(&token, 1, logits, false, nullptr, nullptr);
  });
}

rwkvx_status rwkvx_session_truncate(rwkvx_session* s, int64_t n) {
  return guarded([&] {
    need(s, "session");
    s->s->truncate(n);
  });
}

rwkvx_status rwkvx_session_fork(rwkvx_session* s, rwkvx_session** out) {
  return guarded([&] {
    need(s, "session");
    need(out, "out");
    *out = nullptr;
    auto f = std::make_unique<rwkvx_session>();
    f->s = s->s->fork();
    *out = f.release();
  });
}

/* -------------------------------------------------------------- snapshots */

rwkvx_status rwkvx_snapshot_take(const rwkvx_session* s, rwkvx_snapshot** out) {
  return guarded([&] {
    need(s, "session");
    need(out, "out");
    const Session& ss = *s->s;
    *out = new rwkvx_snapshot{ss.model().fingerprint, ss.n_past(), ss.prefix_hash(ss.n_past()), ss.state()};
  });
}

rwkvx_status rwkvx_snapshot_restore(rwkvx_session* s, const rwkvx_snapshot* snap) {
  return guarded([&] {
    need(s, "session");
    need(snap, "snapshot");
    if (snap->fingerprint != s->s->model().fingerprint)
      fail(RWKVX_ERR_STATE_MISMATCH, "snapshot was taken with another model");
    s->s->restore(snap->state, snap->n_past, snap->hash);
  });
}

int64_t rwkvx_snapshot_n_past(const rwkvx_snapshot* snap) { return snap ? snap->n_past : -1; }

void rwkvx_snapshot_free(rwkvx_snapshot* snap) { delete snap; }

rwkvx_status rwkvx_snapshot_serialize(const rwkvx_snapshot* snap, uint8_t* bytes, size_t capacity, size_t* size) {
  return guarded([&] {
    need(snap, "snapshot");
    need(size, "size");
    ByteWriter w;
    w.magic("RWKVXSNP");
    w.u32(1);
    w.u64(snap->fingerprint);
    w.i64(snap->n_past);
    w.u64(snap->hash);
    w.floats(snap->state);
    w.finish_checksum();
    const std::vector<uint8_t> blob = w.take();
    *size = blob.size();
    if (bytes == nullptr) return;
    if (capacity < blob.size()) fail(RWKVX_ERR_INVALID_ARGUMENT, "buffer holds %zu bytes, need %zu", capacity, blob.size());
    std::memcpy(bytes, blob.data(), blob.size());
  });
}

rwkvx_status rwkvx_snapshot_deserialize(const rwkvx_model* m, const uint8_t* bytes, size_t size, rwkvx_snapshot** out) {
  return guarded([&] {
    need(m, "model");
    need(bytes, "bytes");
    need(out, "out");
    *out = nullptr;
    ByteReader r(bytes, size, "snapshot blob");
    r.verify_checksum();
    r.expect_magic("RWKVXSNP");
    const uint32_t version = r.u32();
    if (version != 1) fail(RWKVX_ERR_FORMAT, "snapshot blob version %u is not supported", version);
    auto snap = std::make_unique<rwkvx_snapshot>();
    snap->fingerprint = r.u64();
    if (snap->fingerprint != m->model->fingerprint) fail(RWKVX_ERR_STATE_MISMATCH, "snapshot blob is from another model");
    snap->n_past = r.i64();
    if (snap->n_past < 0) fail(RWKVX_ERR_FORMAT, "snapshot blob has a negative length");
    snap->hash = r.u64();
    snap->state = r.floats();
    if (static_cast<int64_t>(snap->state.size()) != state_layout(m->model->hp).size())
      fail(RWKVX_ERR_STATE_MISMATCH, "snapshot blob state size does not match the model");
    r.expect_end();
    *out = snap.release();
  });
}

rwkvx_status rwkvx_session_save(const rwkvx_session* s, uint8_t* bytes, size_t capacity, size_t* size) {
  return guarded([&] {
    need(s, "session");
    need(size, "size");
    const std::vector<uint8_t> blob = s->s->save();
    *size = blob.size();
    if (bytes == nullptr) return;
    if (capacity < blob.size()) fail(RWKVX_ERR_INVALID_ARGUMENT, "buffer holds %zu bytes, need %zu", capacity, blob.size());
    std::memcpy(bytes, blob.data(), blob.size());
  });
}

rwkvx_status rwkvx_session_load(rwkvx_session* s, const uint8_t* bytes, size_t size) {
  return guarded([&] {
    need(s, "session");
    need(bytes, "bytes");
    s->s->load(bytes, size);
  });
}

/* --------------------------------------------------------------- sampling */

rwkvx_sampler_params rwkvx_sampler_default_params(void) {
  rwkvx_sampler_params p{};
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repetition_penalty = 1.0f;
  p.presence_penalty = 0.0f;
  p.frequency_penalty = 0.0f;
  p.penalty_last_n = 64;
  p.seed = 0x5eed;
  return p;
}

rwkvx_status rwkvx_sampler_new(const rwkvx_model* m, const rwkvx_sampler_params* p, rwkvx_sampler** out) {
  return guarded([&] {
    need(m, "model");
    need(out, "out");
    const rwkvx_sampler_params sp = p ? *p : rwkvx_sampler_default_params();
    *out = new rwkvx_sampler{Sampler(sp, m->model->hp.n_vocab)};
  });
}

void rwkvx_sampler_free(rwkvx_sampler* smp) { delete smp; }

void rwkvx_sampler_accept(rwkvx_sampler* smp, int32_t token) {
  if (smp != nullptr) smp->s.accept(token);
}

rwkvx_status rwkvx_sampler_sample(rwkvx_sampler* smp, const float* logits, int32_t* out_token) {
  return guarded([&] {
    need(smp, "sampler");
    need(logits, "logits");
    need(out_token, "out_token");
    *out_token = smp->s.sample(logits);
  });
}

/* ------------------------------------------------------------ generation */

rwkvx_generate_params rwkvx_generate_default_params(void) {
  rwkvx_generate_params p{};
  p.max_tokens = 256;
  p.stop_strings = nullptr;
  p.n_stop_strings = 0;
  p.stop_at_eos = 1;
  return p;
}

}  // extern "C"

namespace {

// Holds back text that could still become a stop string; finds the first stop.
class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}
  // Appends text; returns the part that is safe to emit. Sets `hit` when a stop
  // string completed (the returned text then ends right before it).
  std::string push(const std::string& text, bool& hit) {
    pending_ += text;
    size_t first = std::string::npos;
    for (const auto& s : stops_) {
      const size_t at = pending_.find(s);
      if (at != std::string::npos) first = std::min(first, at);
    }
    if (first != std::string::npos) {
      hit = true;
      std::string out = pending_.substr(0, first);
      pending_.clear();
      return out;
    }
    size_t keep = 0;  // longest suffix of pending that is a proper prefix of a stop string
    for (const auto& s : stops_)
      for (size_t k = std::min(s.size() - 1, pending_.size()); k > keep; --k)
        if (pending_.compare(pending_.size() - k, k, s, 0, k) == 0) {
          keep = k;
          break;
        }
    std::string out = pending_.substr(0, pending_.size() - keep);
    pending_.erase(0, pending_.size() - keep);
    return out;
  }
  std::string rest() { return std::move(pending_); }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
};

}  // namespace

extern "C" rwkvx_status rwkvx_generate(rwkvx_session* s, rwkvx_sampler* smp, const rwkvx_generate_params* params,
                                       rwkvx_text_fn on_text, void* user_data, int* n_generated,
                                       rwkvx_stop_reason* stop_reason) {
  int generated = 0;
  rwkvx_stop_reason reason = RWKVX_STOP_MAX_TOKENS;
  const rwkvx_status st = guarded([&] {
    need(s, "session");
    need(smp, "sampler");
    const rwkvx_generate_params p = params ? *params : rwkvx_generate_default_params();
    if (p.max_tokens < 0) fail(RWKVX_ERR_INVALID_ARGUMENT, "max_tokens must be >= 0");
    if (p.n_stop_strings > 0) need(p.stop_strings, "stop_strings");
    Session& ss = *s->s;
    CallScope call(ss);
    if (!ss.has_logits()) fail(RWKVX_ERR_INVALID_ARGUMENT, "generate needs a fed context: feed at least one token first");
    std::vector<std::string> stops;
    for (size_t i = 0; i < p.n_stop_strings; ++i)
      if (p.stop_strings[i] != nullptr && p.stop_strings[i][0] != '\0') stops.emplace_back(p.stop_strings[i]);
    StopMatcher matcher(std::move(stops));
    Utf8Stream utf8;
    const Tokenizer& tok = ss.model().tokenizer;
    std::vector<float> logits(ss.last_logits());
    // Every sampled token is reported, with the text it completed (possibly
    // empty); the final flush comes as token -1 and only when it has text.
    auto emit = [&](const std::string& text, int32_t token) {
      if (on_text == nullptr || (token < 0 && text.empty())) return true;
      return on_text(text.data(), text.size(), token, user_data) == 0;
    };
    for (;;) {
      if (generated >= p.max_tokens) { reason = RWKVX_STOP_MAX_TOKENS; break; }
      if (ss.should_abort()) { reason = RWKVX_STOP_ABORTED; break; }
      int32_t token = smp->s.sample(logits.data());
      if (token == 0 && p.stop_at_eos) { reason = RWKVX_STOP_EOS; break; }
      ss.feed(&token, 1, logits.data(), false, nullptr, nullptr);
      smp->s.accept(token);
      ++generated;
      bool hit = false;
      const std::string text = matcher.push(utf8.push(tok.bytes(token)), hit);
      if (!emit(text, token)) { reason = RWKVX_STOP_CALLBACK; break; }
      if (hit) { reason = RWKVX_STOP_STRING; break; }
    }
    if (reason != RWKVX_STOP_STRING) {
      bool hit = false;
      std::string tail = matcher.push(utf8.flush(), hit);
      if (!hit) tail += matcher.rest();
      else reason = RWKVX_STOP_STRING;
      if (reason != RWKVX_STOP_CALLBACK) emit(tail, -1);
    }
    if (reason == RWKVX_STOP_ABORTED) fail(RWKVX_ERR_ABORTED, "generation aborted after %d tokens", generated);
  });
  if (n_generated) *n_generated = generated;
  if (stop_reason) *stop_reason = reason;
  return st;
}

/* ------------------------------------------------------------ conversion */

extern "C" rwkvx_convert_params rwkvx_convert_default_params(void) {
  rwkvx_convert_params p{};
  p.type = RWKVX_CONVERT_F16;
  return p;
}

extern "C" rwkvx_status rwkvx_convert(const char* in_path, const char* out_path, const rwkvx_convert_params* params) {
  return guarded([&] {
    need(in_path, "in_path");
    need(out_path, "out_path");
    const rwkvx_convert_params p = params ? *params : rwkvx_convert_default_params();
    convert_model(in_path, out_path, convert_options_from(p));
  });
}
