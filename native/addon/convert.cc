// convert(): checkpoint (.pth / .safetensors / GGUF) → GGUF as a job with
// progress in tensors.
#include "addon.h"

namespace addon {

namespace {

class ConvertJob : public Job<ProgressEvent> {
 public:
  ConvertJob(Napi::Env env, std::string in, std::string out, rwkvx_convert_params p, std::string vocab, std::string name)
      : Job(env, "rwkvx.convert"), in_(std::move(in)), out_(std::move(out)), params_(p), vocab_(std::move(vocab)), name_(std::move(name)) {}

 protected:
  rwkvx_status Run(const Progress& progress) override {
    params_.vocab_path = vocab_.empty() ? nullptr : vocab_.c_str();
    params_.name = name_.empty() ? nullptr : name_.c_str();
    if (!listener_.IsEmpty()) {
      params_.progress = ForwardProgress;
      params_.progress_user_data = const_cast<Progress*>(&progress);
    }
    const rwkvx_status st = rwkvx_convert(in_.c_str(), out_.c_str(), &params_);
    params_.progress = nullptr;
    return st;
  }
  void Deliver(Napi::Env env, const ProgressEvent& e) override {
    listener_.Call({Napi::Number::New(env, static_cast<double>(e.done)), Napi::Number::New(env, static_cast<double>(e.total))});
  }

 private:
  std::string in_, out_;
  rwkvx_convert_params params_;
  std::string vocab_, name_;
};

rwkvx_convert_type ConvertType(Napi::Env env, const std::string& s) {
  if (s == "f16") return RWKVX_CONVERT_F16;
  if (s == "q8_0") return RWKVX_CONVERT_Q8_0;
  if (s == "f32") return RWKVX_CONVERT_F32;
  if (s == "bf16") return RWKVX_CONVERT_BF16;
  throw CodeError(env, "ERR_INVALID_ARG_VALUE", "type must be f16, q8_0, f32 or bf16, not '" + s + "'");
}

}  // namespace

Napi::Value Convert(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string in = StringArg(info, 0, "input path");
  std::string out = StringArg(info, 1, "output path");
  Napi::Object o = OptionsArg(info, 2);
  rwkvx_convert_params p = rwkvx_convert_default_params();
  const std::string type = StringOpt(o, "type", "");
  if (!type.empty()) p.type = ConvertType(env, type);
  p.attn_chunk_size = static_cast<int>(NumberOpt(o, "attnChunkSize", p.attn_chunk_size));
  p.attn_top_k = static_cast<int>(NumberOpt(o, "attnTopK", p.attn_top_k));
  auto* job = new ConvertJob(env, std::move(in), std::move(out), p, StringOpt(o, "vocab", ""), StringOpt(o, "name", ""));
  job->SetListener(FunctionArg(info, 3));
  Napi::Promise promise = job->Promise();
  job->Queue();
  return promise;
}

}  // namespace addon
