// Model: loading (a job with progress), information, tokenizer, and the
// factories of sessions, samplers and deserialized snapshots.
#include "addon.h"

#include <cstring>

namespace addon {

namespace {

class LoadJob : public Job<ProgressEvent> {
 public:
  LoadJob(Napi::Env env, std::string path, rwkvx_model_params params)
      : Job(env, "rwkvx.loadModel"), path_(std::move(path)), params_(params) {}

 protected:
  rwkvx_status Run(const Progress& progress) override {
    if (!listener_.IsEmpty()) {
      params_.progress = ForwardProgress;
      params_.progress_user_data = const_cast<Progress*>(&progress);
    }
    rwkvx_model* m = nullptr;
    const rwkvx_status st = rwkvx_model_load(path_.c_str(), &params_, &m);
    params_.progress = nullptr;
    if (st == RWKVX_OK) model_ = std::make_shared<ModelHandle>(m);
    return st;
  }
  Napi::Value Result(Napi::Env env) override { return Model::Wrap(env, model_); }
  void Deliver(Napi::Env env, const ProgressEvent& e) override {
    listener_.Call({Napi::Number::New(env, static_cast<double>(e.done)), Napi::Number::New(env, static_cast<double>(e.total))});
  }

 private:
  std::string path_;
  rwkvx_model_params params_;
  ModelRef model_;
};

class DeserializeJob : public Job<ProgressEvent> {
 public:
  DeserializeJob(Napi::Env env, ModelRef model, std::vector<uint8_t> bytes)
      : Job(env, "rwkvx.deserializeSnapshot"), model_(std::move(model)), bytes_(std::move(bytes)) {}

 protected:
  rwkvx_status Run(const Progress&) override {
    rwkvx_snapshot* snap = nullptr;
    const rwkvx_status st = rwkvx_snapshot_deserialize(model_->model, bytes_.data(), bytes_.size(), &snap);
    if (st == RWKVX_OK) snapshot_ = std::make_shared<SnapshotHandle>(model_, snap);
    bytes_.clear();
    return st;
  }
  Napi::Value Result(Napi::Env env) override { return Snapshot::Wrap(env, snapshot_); }

 private:
  ModelRef model_;
  std::vector<uint8_t> bytes_;
  SnapshotRef snapshot_;
};

rwkvx_device_kind DeviceKind(Napi::Env env, const std::string& s) {
  if (s == "auto") return RWKVX_DEVICE_AUTO;
  if (s == "cpu") return RWKVX_DEVICE_CPU;
  if (s == "cuda") return RWKVX_DEVICE_CUDA;
  throw CodeError(env, "ERR_INVALID_ARG_VALUE", "device must be 'auto', 'cpu' or 'cuda', not '" + s + "'");
}

}  // namespace

Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = StringArg(info, 0, "path");
  Napi::Object o = OptionsArg(info, 1);
  rwkvx_model_params p = rwkvx_model_default_params();
  p.device = DeviceKind(env, StringOpt(o, "device", "auto"));
  p.device_index = static_cast<int>(NumberOpt(o, "deviceIndex", p.device_index));
  p.n_threads = static_cast<int>(NumberOpt(o, "threads", p.n_threads));
  p.use_mmap = BoolOpt(o, "useMmap", p.use_mmap != 0) ? 1 : 0;
  auto* job = new LoadJob(env, path, p);
  job->SetListener(FunctionArg(info, 2));
  Napi::Promise promise = job->Promise();
  job->Queue();
  return promise;
}

// ------------------------------------------------------------------ class

Napi::Function Model::Define(Napi::Env env) {
  return DefineClass(env, "Model",
                     {
                         InstanceMethod<&Model::Info>("info"),
                         InstanceMethod<&Model::MetaString>("metaString"),
                         InstanceMethod<&Model::Tokenize>("tokenize"),
                         InstanceMethod<&Model::TokenBytes>("tokenBytes"),
                         InstanceMethod<&Model::Detokenize>("detokenize"),
                         InstanceMethod<&Model::NewSession>("newSession"),
                         InstanceMethod<&Model::NewSampler>("newSampler"),
                         InstanceMethod<&Model::DeserializeSnapshot>("deserializeSnapshot"),
                         InstanceMethod<&Model::Dispose>("dispose"),
                         InstanceAccessor<&Model::Disposed>("disposed"),
                     });
}

Napi::Object Model::Wrap(Napi::Env env, ModelRef ref) {
  return Instance(env).model.New({Napi::External<ModelRef>::New(env, &ref)});
}

Model::Model(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Model>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw CodeError(info.Env(), "ERR_ILLEGAL_CONSTRUCTOR", "use loadModel() to create a Model");
  ref_ = *info[0].As<Napi::External<ModelRef>>().Data();
}

const ModelRef& Model::Ref(Napi::Env env) const {
  if (!ref_) throw CodeError(env, "ERR_DISPOSED", "the model was disposed");
  return ref_;
}

Model* Model::From(Napi::Env env, Napi::Value v) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(Instance(env).model.Value()))
    throw CodeError(env, "ERR_INVALID_ARG_TYPE", "expected a Model");
  return Model::Unwrap(v.As<Napi::Object>());
}

Napi::Value Model::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rwkvx_model_info mi{};
  Check(env, rwkvx_model_get_info(Ref(env)->model, &mi));
  Napi::Object o = Napi::Object::New(env);
  auto num = [&](const char* k, double v) { o.Set(k, Napi::Number::New(env, v)); };
  auto str = [&](const char* k, const char* v, size_t cap) { o.Set(k, Napi::String::New(env, std::string(v, strnlen(v, cap)))); };
  str("architecture", mi.architecture, sizeof mi.architecture);
  str("name", mi.name, sizeof mi.name);
  num("nEmbd", mi.n_embd);
  num("nLayer", mi.n_layer);
  num("nAttnLayer", mi.n_attn_layer);
  num("nHead", mi.n_head);
  num("headSize", mi.head_size);
  num("nFfn", mi.n_ffn);
  num("nVocab", mi.n_vocab);
  num("attnChunkSize", mi.attn_chunk_size);
  num("attnTopK", mi.attn_top_k);
  num("nParams", static_cast<double>(mi.n_params));
  num("weightBytes", static_cast<double>(mi.weight_bytes));
  num("stateBytes", static_cast<double>(mi.state_bytes));
  num("kvBytesPerToken", static_cast<double>(mi.kv_bytes_per_token));
  num("trainContextLength", static_cast<double>(mi.train_context_length));
  str("device", mi.device, sizeof mi.device);
  str("deviceNote", mi.device_note, sizeof mi.device_note);
  return o;
}

Napi::Value Model::MetaString(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string key = StringArg(info, 0, "key");
  const char* out = nullptr;
  // An absent key is an ordinary answer here, not an error.
  if (rwkvx_model_meta_str(Ref(env)->model, key.c_str(), &out) != RWKVX_OK || out == nullptr) return env.Undefined();
  return Napi::String::New(env, out);
}

Napi::Value Model::Tokenize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string text;
  if (info.Length() > 0 && info[0].IsString()) {
    text = info[0].As<Napi::String>().Utf8Value();
  } else {
    std::vector<uint8_t> bytes = BytesArg(info, 0, "text");
    text.assign(bytes.begin(), bytes.end());
  }
  rwkvx_model* m = Ref(env)->model;
  size_t n = 0;
  Check(env, rwkvx_tokenize(m, text.data(), text.size(), nullptr, 0, &n));
  Napi::Int32Array out = Napi::Int32Array::New(env, n);
  if (n > 0) Check(env, rwkvx_tokenize(m, text.data(), text.size(), out.Data(), n, &n));
  return out;
}

Napi::Value Model::TokenBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t token = IntegerArg(info, 0, "token");
  const char* bytes = nullptr;
  size_t len = 0;
  Check(env, rwkvx_token_bytes(Ref(env)->model, static_cast<int32_t>(token), &bytes, &len));
  return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(bytes), len);
}

Napi::Value Model::Detokenize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<int32_t> tokens = TokensArg(info, 0);
  rwkvx_detok* d = nullptr;
  Check(env, rwkvx_detok_new(Ref(env)->model, &d));
  std::string text;
  const char* out = nullptr;
  size_t len = 0;
  rwkvx_status st = RWKVX_OK;
  for (int32_t t : tokens) {
    st = rwkvx_detok_push(d, t, &out, &len);
    if (st != RWKVX_OK) break;
    text.append(out, len);
  }
  if (st == RWKVX_OK) {
    st = rwkvx_detok_flush(d, &out, &len);
    if (st == RWKVX_OK) text.append(out, len);
  }
  const std::string message = st == RWKVX_OK ? "" : LastError(st);
  rwkvx_detok_free(d);
  if (st != RWKVX_OK) throw StatusError(env, st, message);
  return Napi::String::New(env, text);
}

Napi::Value Model::NewSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ModelRef& model = Ref(env);
  Napi::Object o = OptionsArg(info, 0);
  rwkvx_session_params p = rwkvx_session_default_params();
  p.n_ctx = static_cast<int64_t>(NumberOpt(o, "nCtx", static_cast<double>(p.n_ctx)));
  const std::string kv = StringOpt(o, "kvType", p.kv_type == RWKVX_KV_F16 ? "f16" : "f32");
  if (kv != "f16" && kv != "f32") throw CodeError(env, "ERR_INVALID_ARG_VALUE", "kvType must be 'f16' or 'f32'");
  p.kv_type = kv == "f16" ? RWKVX_KV_F16 : RWKVX_KV_F32;
  p.prefill_chunk = static_cast<int>(NumberOpt(o, "prefillChunk", p.prefill_chunk));
  rwkvx_session* s = nullptr;
  Check(env, rwkvx_session_new(model->model, &p, &s));
  return Session::Wrap(env, std::make_shared<SessionHandle>(model, s));
}

Napi::Value Model::NewSampler(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ModelRef& model = Ref(env);
  Napi::Object o = OptionsArg(info, 0);
  rwkvx_sampler_params p = rwkvx_sampler_default_params();
  p.temperature = static_cast<float>(NumberOpt(o, "temperature", p.temperature));
  p.top_k = static_cast<int>(NumberOpt(o, "topK", p.top_k));
  p.top_p = static_cast<float>(NumberOpt(o, "topP", p.top_p));
  p.min_p = static_cast<float>(NumberOpt(o, "minP", p.min_p));
  p.repetition_penalty = static_cast<float>(NumberOpt(o, "repetitionPenalty", p.repetition_penalty));
  p.presence_penalty = static_cast<float>(NumberOpt(o, "presencePenalty", p.presence_penalty));
  p.frequency_penalty = static_cast<float>(NumberOpt(o, "frequencyPenalty", p.frequency_penalty));
  p.penalty_last_n = static_cast<int>(NumberOpt(o, "penaltyLastN", p.penalty_last_n));
  p.seed = static_cast<uint64_t>(NumberOpt(o, "seed", static_cast<double>(p.seed)));
  rwkvx_sampler* smp = nullptr;
  Check(env, rwkvx_sampler_new(model->model, &p, &smp));
  return Sampler::Wrap(env, std::make_shared<SamplerHandle>(model, smp));
}

Napi::Value Model::DeserializeSnapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* job = new DeserializeJob(env, Ref(env), BytesArg(info, 0, "bytes"));
  Napi::Promise promise = job->Promise();
  job->Queue();
  return promise;
}

Napi::Value Model::Dispose(const Napi::CallbackInfo& info) {
  ref_.reset();
  return info.Env().Undefined();
}

Napi::Value Model::Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !ref_); }

}  // namespace addon
