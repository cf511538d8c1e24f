// Session: prefill / decode / generate as jobs (one in flight per session),
// cancellation, fork, snapshots, save and load.
#include "addon.h"

#include <cstring>

namespace addon {

namespace {

constexpr const char* kAborted = "the call was aborted";

int NVocab(Napi::Env env, const ModelRef& model) {
  rwkvx_model_info mi{};
  Check(env, rwkvx_model_get_info(model->model, &mi));
  return mi.n_vocab;
}

Napi::Float32Array ToFloat32Array(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(float));
  return a;
}

// Base of the jobs that run on a session: holds the handle (so a dispose()
// during the call frees it only afterwards), clears the busy flag, attaches
// nPast to rejections and stops the engine call when a listener throws.
template <class Event>
class SessionJob : public Job<Event> {
 public:
  SessionJob(Napi::Env env, const char* name, SessionRef s) : Job<Event>(env, name), s_(std::move(s)) {
    s_->busy = true;
    s_->cancel = false;
  }

 protected:
  bool Cancelled() const { return s_->cancel.load(); }
  rwkvx_status AbortedBeforeStart() {
    this->message_ = kAborted;
    n_past_ = rwkvx_session_n_past(s_->session);
    return RWKVX_ERR_ABORTED;
  }
  void Release() override { s_->busy = false; }
  void Abort() override {
    s_->cancel = true;
    rwkvx_session_abort(s_->session);
  }
  void Decorate(Napi::Error& e) override { e.Set("nPast", Napi::Number::New(this->Env(), static_cast<double>(n_past_))); }

  SessionRef s_;
  int64_t n_past_ = 0;  // read on the worker thread after the call
};

struct ProgressContext {
  const Job<ProgressEvent>::Progress* progress;
  const std::atomic<bool>* cancel;
};

int PrefillProgress(uint64_t done, uint64_t total, void* user) {
  auto* ctx = static_cast<ProgressContext*>(user);
  if (ctx->progress != nullptr) {
    ProgressEvent e{done, total};
    ctx->progress->Send(&e, 1);
  }
  return ctx->cancel->load() ? 1 : 0;
}

class PrefillJob : public SessionJob<ProgressEvent> {
 public:
  PrefillJob(Napi::Env env, SessionRef s, std::vector<int32_t> tokens, int n_vocab)
      : SessionJob(env, "rwkvx.prefill", std::move(s)), tokens_(std::move(tokens)), n_vocab_(n_vocab) {}

 protected:
  rwkvx_status Run(const Progress& progress) override {
    if (Cancelled()) return AbortedBeforeStart();
    ProgressContext ctx{listener_.IsEmpty() ? nullptr : &progress, &s_->cancel};
    if (n_vocab_ > 0) logits_.resize(static_cast<size_t>(n_vocab_));
    rwkvx_status st = rwkvx_session_prefill(s_->session, tokens_.data(), tokens_.size(),
                                            n_vocab_ > 0 ? logits_.data() : nullptr, PrefillProgress, &ctx);
    if (st != RWKVX_OK && s_->cancel.load()) {
      st = RWKVX_ERR_ABORTED;
      message_ = kAborted;
    }
    n_past_ = rwkvx_session_n_past(s_->session);
    return st;
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("nPast", Napi::Number::New(env, static_cast<double>(n_past_)));
    if (n_vocab_ > 0) o.Set("logits", ToFloat32Array(env, logits_));
    return o;
  }
  void Deliver(Napi::Env env, const ProgressEvent& e) override {
    listener_.Call({Napi::Number::New(env, static_cast<double>(e.done)), Napi::Number::New(env, static_cast<double>(e.total))});
  }

 private:
  std::vector<int32_t> tokens_;
  int n_vocab_;  // 0: no logits wanted
  std::vector<float> logits_;
};

class AllLogitsJob : public SessionJob<ProgressEvent> {
 public:
  AllLogitsJob(Napi::Env env, SessionRef s, std::vector<int32_t> tokens, int n_vocab)
      : SessionJob(env, "rwkvx.prefillAllLogits", std::move(s)), tokens_(std::move(tokens)), n_vocab_(n_vocab) {}

 protected:
  rwkvx_status Run(const Progress&) override {
    if (Cancelled()) return AbortedBeforeStart();
    logits_.resize(tokens_.size() * static_cast<size_t>(n_vocab_));
    const rwkvx_status st = rwkvx_session_prefill_all_logits(s_->session, tokens_.data(), tokens_.size(), logits_.data());
    n_past_ = rwkvx_session_n_past(s_->session);
    return st;
  }
  Napi::Value Result(Napi::Env env) override { return ToFloat32Array(env, logits_); }

 private:
  std::vector<int32_t> tokens_;
  int n_vocab_;
  std::vector<float> logits_;
};

class DecodeJob : public SessionJob<ProgressEvent> {
 public:
  DecodeJob(Napi::Env env, SessionRef s, int32_t token, int n_vocab)
      : SessionJob(env, "rwkvx.decode", std::move(s)), token_(token), logits_(static_cast<size_t>(n_vocab)) {}

 protected:
  rwkvx_status Run(const Progress&) override {
    if (Cancelled()) return AbortedBeforeStart();
    const rwkvx_status st = rwkvx_session_decode(s_->session, token_, logits_.data());
    n_past_ = rwkvx_session_n_past(s_->session);
    return st;
  }
  Napi::Value Result(Napi::Env env) override { return ToFloat32Array(env, logits_); }

 private:
  int32_t token_;
  std::vector<float> logits_;
};

struct TextEvent {
  std::string text;
  int32_t token = 0;
};

class GenerateJob : public SessionJob<TextEvent> {
 public:
  GenerateJob(Napi::Env env, SessionRef s, SamplerRef smp, int max_tokens, std::vector<std::string> stops, bool stop_at_eos)
      : SessionJob(env, "rwkvx.generate", std::move(s)), smp_(std::move(smp)), stops_(std::move(stops)) {
    smp_->busy = true;
    params_ = rwkvx_generate_default_params();
    params_.max_tokens = max_tokens;
    params_.stop_at_eos = stop_at_eos ? 1 : 0;
  }

 protected:
  rwkvx_status Run(const Progress& progress) override {
    if (Cancelled()) {
      reason_ = RWKVX_STOP_ABORTED;
      n_past_ = rwkvx_session_n_past(s_->session);
      return RWKVX_OK;
    }
    std::vector<const char*> stop_ptrs;
    for (const std::string& s : stops_) stop_ptrs.push_back(s.c_str());
    params_.stop_strings = stop_ptrs.empty() ? nullptr : stop_ptrs.data();
    params_.n_stop_strings = stop_ptrs.size();
    progress_ = &progress;
    int n = 0;
    rwkvx_stop_reason reason = RWKVX_STOP_MAX_TOKENS;
    rwkvx_status st = rwkvx_generate(s_->session, smp_->sampler, &params_, OnText, this, &n, &reason);
    progress_ = nullptr;
    n_tokens_ = n;
    n_past_ = rwkvx_session_n_past(s_->session);
    // Cancellation is an ordinary end of generation, not a failure: the text
    // produced so far has been delivered and stays in the session.
    if (s_->cancel.load() && (st == RWKVX_OK || st == RWKVX_ERR_ABORTED)) {
      reason_ = RWKVX_STOP_ABORTED;
      return RWKVX_OK;
    }
    reason_ = reason;
    return st;
  }
  Napi::Value Result(Napi::Env env) override {
    static const char* const names[] = {"maxTokens", "eos", "stop", "callback", "aborted"};
    Napi::Object o = Napi::Object::New(env);
    o.Set("nGenerated", Napi::Number::New(env, n_tokens_));
    o.Set("stopReason", Napi::String::New(env, reason_ >= 0 && reason_ <= 4 ? names[reason_] : "unknown"));
    o.Set("nPast", Napi::Number::New(env, static_cast<double>(n_past_)));
    return o;
  }
  void Deliver(Napi::Env env, const TextEvent& e) override {
    if (listener_.IsEmpty()) return;
    listener_.Call({Napi::String::New(env, e.text), Napi::Number::New(env, e.token)});
  }
  void Release() override {
    SessionJob::Release();
    smp_->busy = false;
  }

 private:
  // token is -1 for text held back until the end (stop-string lookahead).
  static int OnText(const char* text, size_t len, int32_t token, void* user) {
    auto* self = static_cast<GenerateJob*>(user);
    TextEvent e{std::string(text, len), token};
    self->progress_->Send(&e, 1);
    return self->s_->cancel.load() ? 1 : 0;
  }

  SamplerRef smp_;
  std::vector<std::string> stops_;
  rwkvx_generate_params params_;
  const Progress* progress_ = nullptr;
  int n_tokens_ = 0;
  rwkvx_stop_reason reason_ = RWKVX_STOP_MAX_TOKENS;
};

class SaveJob : public SessionJob<ProgressEvent> {
 public:
  SaveJob(Napi::Env env, SessionRef s) : SessionJob(env, "rwkvx.save", std::move(s)) {}

 protected:
  rwkvx_status Run(const Progress&) override {
    size_t size = 0;
    rwkvx_status st = rwkvx_session_save(s_->session, nullptr, 0, &size);
    if (st != RWKVX_OK) return st;
    bytes_.resize(size);
    st = rwkvx_session_save(s_->session, bytes_.data(), bytes_.size(), &size);
    bytes_.resize(size);
    return st;
  }
  Napi::Value Result(Napi::Env env) override { return Napi::Buffer<uint8_t>::Copy(env, bytes_.data(), bytes_.size()); }

 private:
  std::vector<uint8_t> bytes_;
};

class LoadJob : public SessionJob<ProgressEvent> {
 public:
  LoadJob(Napi::Env env, SessionRef s, std::vector<uint8_t> bytes)
      : SessionJob(env, "rwkvx.load", std::move(s)), bytes_(std::move(bytes)) {}

 protected:
  rwkvx_status Run(const Progress&) override {
    const rwkvx_status st = rwkvx_session_load(s_->session, bytes_.data(), bytes_.size());
    n_past_ = rwkvx_session_n_past(s_->session);
    bytes_.clear();
    return st;
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("nPast", Napi::Number::New(env, static_cast<double>(n_past_)));
    return o;
  }

 private:
  std::vector<uint8_t> bytes_;
};

template <class J>
Napi::Value Start(J* job) {
  Napi::Promise promise = job->Promise();
  job->Queue();
  return promise;
}

}  // namespace

// ------------------------------------------------------------------ class

Napi::Function Session::Define(Napi::Env env) {
  return DefineClass(env, "Session",
                     {
                         InstanceAccessor<&Session::NPast>("nPast"),
                         InstanceAccessor<&Session::Busy>("busy"),
                         InstanceAccessor<&Session::Disposed>("disposed"),
                         InstanceMethod<&Session::Prefill>("prefill"),
                         InstanceMethod<&Session::PrefillAllLogits>("prefillAllLogits"),
                         InstanceMethod<&Session::Decode>("decode"),
                         InstanceMethod<&Session::Generate>("generate"),
                         InstanceMethod<&Session::Abort>("abort"),
                         InstanceMethod<&Session::Reset>("reset"),
                         InstanceMethod<&Session::Truncate>("truncate"),
                         InstanceMethod<&Session::Fork>("fork"),
                         InstanceMethod<&Session::TakeSnapshot>("snapshot"),
                         InstanceMethod<&Session::Restore>("restore"),
                         InstanceMethod<&Session::Save>("save"),
                         InstanceMethod<&Session::Load>("load"),
                         InstanceMethod<&Session::Dispose>("dispose"),
                     });
}

Napi::Object Session::Wrap(Napi::Env env, SessionRef ref) {
  return Instance(env).session.New({Napi::External<SessionRef>::New(env, &ref)});
}

Session::Session(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Session>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw CodeError(info.Env(), "ERR_ILLEGAL_CONSTRUCTOR", "use model.newSession() to create a Session");
  ref_ = *info[0].As<Napi::External<SessionRef>>().Data();
}

// Collected without dispose(): stop whatever still runs; the job in flight
// holds the handle and frees it when it ends.
Session::~Session() {
  if (ref_ && ref_->busy) {
    ref_->cancel = true;
    rwkvx_session_abort(ref_->session);
  }
}

const SessionRef& Session::Idle(Napi::Env env) const {
  if (!ref_) throw CodeError(env, "ERR_DISPOSED", "the session was disposed");
  if (ref_->busy) throw CodeError(env, "ERR_BUSY", "the session is running another call");
  return ref_;
}

Napi::Value Session::NPast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ref_) throw CodeError(env, "ERR_DISPOSED", "the session was disposed");
  return Napi::Number::New(env, static_cast<double>(rwkvx_session_n_past(ref_->session)));
}

Napi::Value Session::Busy(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), ref_ && ref_->busy); }

Napi::Value Session::Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !ref_); }

Napi::Value Session::Prefill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const SessionRef& s = Idle(env);
  std::vector<int32_t> tokens = TokensArg(info, 0);
  Napi::Object o = OptionsArg(info, 1);
  const int n_vocab = BoolOpt(o, "logits", false) ? NVocab(env, s->model) : 0;
  Napi::Function listener = FunctionArg(info, 2);
  auto* job = new PrefillJob(env, s, std::move(tokens), n_vocab);
  job->SetListener(listener);
  return Start(job);
}

Napi::Value Session::PrefillAllLogits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const SessionRef& s = Idle(env);
  std::vector<int32_t> tokens = TokensArg(info, 0);
  return Start(new AllLogitsJob(env, s, std::move(tokens), NVocab(env, s->model)));
}

Napi::Value Session::Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const SessionRef& s = Idle(env);
  const int64_t token = IntegerArg(info, 0, "token");
  return Start(new DecodeJob(env, s, static_cast<int32_t>(token), NVocab(env, s->model)));
}

Napi::Value Session::Generate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const SessionRef& s = Idle(env);
  const SamplerRef& smp = Sampler::From(env, info[0])->Idle(env);
  Napi::Object o = OptionsArg(info, 1);
  const int max_tokens = static_cast<int>(NumberOpt(o, "maxTokens", rwkvx_generate_default_params().max_tokens));
  const bool stop_at_eos = BoolOpt(o, "stopAtEos", rwkvx_generate_default_params().stop_at_eos != 0);
  std::vector<std::string> stops;
  Napi::Value sv = o.Get("stop");
  if (sv.IsArray()) {
    Napi::Array a = sv.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value v = a.Get(i);
      if (!v.IsString()) throw CodeError(env, "ERR_INVALID_ARG_TYPE", "stop strings must be strings");
      stops.push_back(v.As<Napi::String>().Utf8Value());
    }
  } else if (!sv.IsUndefined() && !sv.IsNull()) {
    throw CodeError(env, "ERR_INVALID_ARG_TYPE", "option stop must be an array of strings");
  }
  Napi::Function listener = FunctionArg(info, 2);
  auto* job = new GenerateJob(env, s, smp, max_tokens, std::move(stops), stop_at_eos);
  job->SetListener(listener);
  return Start(job);
}

Napi::Value Session::Abort(const Napi::CallbackInfo& info) {
  if (ref_) {
    ref_->cancel = true;
    rwkvx_session_abort(ref_->session);
  }
  return info.Env().Undefined();
}

Napi::Value Session::Reset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Check(env, rwkvx_session_reset(Idle(env)->session));
  return env.Undefined();
}

Napi::Value Session::Truncate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const SessionRef& s = Idle(env);
  Check(env, rwkvx_session_truncate(s->session, IntegerArg(info, 0, "n")));
  return env.Undefined();
}

Napi::Value Session::Fork(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const SessionRef& s = Idle(env);
  rwkvx_session* out = nullptr;
  Check(env, rwkvx_session_fork(s->session, &out));
  return Session::Wrap(env, std::make_shared<SessionHandle>(s->model, out));
}

Napi::Value Session::TakeSnapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const SessionRef& s = Idle(env);
  rwkvx_snapshot* snap = nullptr;
  Check(env, rwkvx_snapshot_take(s->session, &snap));
  return Snapshot::Wrap(env, std::make_shared<SnapshotHandle>(s->model, snap));
}

Napi::Value Session::Restore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const SessionRef& s = Idle(env);
  // Whether the snapshot fits this session (model fingerprint, token prefix)
  // is the engine's check.
  const SnapshotRef& snap = Snapshot::From(env, info[0])->Ref(env);
  Check(env, rwkvx_snapshot_restore(s->session, snap->snapshot));
  return Napi::Number::New(env, static_cast<double>(rwkvx_session_n_past(s->session)));
}

Napi::Value Session::Save(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Start(new SaveJob(env, Idle(env)));
}

Napi::Value Session::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const SessionRef& s = Idle(env);
  return Start(new LoadJob(env, s, BytesArg(info, 0, "bytes")));
}

Napi::Value Session::Dispose(const Napi::CallbackInfo& info) {
  if (ref_) {
    if (ref_->busy) {
      ref_->cancel = true;
      rwkvx_session_abort(ref_->session);
    }
    ref_.reset();
  }
  return info.Env().Undefined();
}

}  // namespace addon
