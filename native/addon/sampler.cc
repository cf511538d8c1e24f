// Sampler: token choice from logits with penalties over the accepted tokens.
#include "addon.h"

namespace addon {

Napi::Function Sampler::Define(Napi::Env env) {
  return DefineClass(env, "Sampler",
                     {
                         InstanceMethod<&Sampler::Accept>("accept"),
                         InstanceMethod<&Sampler::Sample>("sample"),
                         InstanceMethod<&Sampler::Dispose>("dispose"),
                         InstanceAccessor<&Sampler::Disposed>("disposed"),
                     });
}

Napi::Object Sampler::Wrap(Napi::Env env, SamplerRef ref) {
  return Instance(env).sampler.New({Napi::External<SamplerRef>::New(env, &ref)});
}

Sampler::Sampler(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Sampler>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw CodeError(info.Env(), "ERR_ILLEGAL_CONSTRUCTOR", "use model.newSampler() to create a Sampler");
  ref_ = *info[0].As<Napi::External<SamplerRef>>().Data();
}

const SamplerRef& Sampler::Idle(Napi::Env env) const {
  if (!ref_) throw CodeError(env, "ERR_DISPOSED", "the sampler was disposed");
  if (ref_->busy) throw CodeError(env, "ERR_BUSY", "the sampler is in use by a generation");
  return ref_;
}

Sampler* Sampler::From(Napi::Env env, Napi::Value v) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(Instance(env).sampler.Value()))
    throw CodeError(env, "ERR_INVALID_ARG_TYPE", "expected a Sampler");
  return Sampler::Unwrap(v.As<Napi::Object>());
}

Napi::Value Sampler::Accept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rwkvx_sampler_accept(Idle(env)->sampler, static_cast<int32_t>(IntegerArg(info, 0, "token")));
  return env.Undefined();
}

Napi::Value Sampler::Sample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const SamplerRef& smp = Idle(env);
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw CodeError(env, "ERR_INVALID_ARG_TYPE", "logits must be a Float32Array");
  Napi::Float32Array logits = info[0].As<Napi::Float32Array>();
  rwkvx_model_info mi{};
  Check(env, rwkvx_model_get_info(smp->model->model, &mi));
  if (logits.ElementLength() != static_cast<size_t>(mi.n_vocab))
    throw StatusError(env, RWKVX_ERR_INVALID_ARGUMENT,
                      "logits has " + std::to_string(logits.ElementLength()) + " entries, the model's vocabulary " +
                          std::to_string(mi.n_vocab));
  int32_t token = 0;
  Check(env, rwkvx_sampler_sample(smp->sampler, logits.Data(), &token));
  return Napi::Number::New(env, token);
}

Napi::Value Sampler::Dispose(const Napi::CallbackInfo& info) {
  ref_.reset();
  return info.Env().Undefined();
}

Napi::Value Sampler::Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !ref_); }

}  // namespace addon
