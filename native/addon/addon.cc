// Module entry: error and argument helpers, build information, registration
// of the wrapped classes.
#include "addon.h"

#include <cmath>

namespace addon {

InstanceData& Instance(Napi::Env env) { return *env.GetInstanceData<InstanceData>(); }

Napi::Error StatusError(Napi::Env env, rwkvx_status status, const std::string& message) {
  const char* name = rwkvx_status_name(status);
  Napi::Error e = Napi::Error::New(env, message.empty() ? std::string(name) : message);
  e.Set("code", Napi::String::New(env, name));
  e.Set("status", Napi::Number::New(env, static_cast<double>(status)));
  return e;
}

Napi::Error CodeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

std::string LastError(rwkvx_status status) {
  const char* text = rwkvx_last_error();
  if (text != nullptr && text[0] != '\0') return text;
  return rwkvx_status_name(status);
}

void Check(Napi::Env env, rwkvx_status status) {
  if (status != RWKVX_OK) throw StatusError(env, status, LastError(status));
}

// ------------------------------------------------------------- arguments

static Napi::Error ArgError(Napi::Env env, const std::string& message) {
  Napi::TypeError e = Napi::TypeError::New(env, message);
  e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  return e;
}

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsString()) throw ArgError(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

int64_t IntegerArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsNumber()) throw ArgError(info.Env(), std::string(what) + " must be a number");
  const double d = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d)) throw ArgError(info.Env(), std::string(what) + " must be an integer");
  return static_cast<int64_t>(d);
}

std::vector<int32_t> TokensArg(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  if (i < info.Length() && info[i].IsTypedArray()) {
    Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_int32_array) {
      Napi::Int32Array a = ta.As<Napi::Int32Array>();
      return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
    }
  }
  if (i < info.Length() && info[i].IsArray()) {
    Napi::Array a = info[i].As<Napi::Array>();
    std::vector<int32_t> out(a.Length());
    for (uint32_t k = 0; k < a.Length(); ++k) {
      Napi::Value v = a.Get(k);
      if (!v.IsNumber()) throw ArgError(env, "tokens must be numbers");
      const double d = v.As<Napi::Number>().DoubleValue();
      if (d != std::floor(d) || d < INT32_MIN || d > INT32_MAX) throw ArgError(env, "tokens must be 32-bit integers");
      out[k] = static_cast<int32_t>(d);
    }
    return out;
  }
  throw ArgError(env, "tokens must be an Int32Array or an array of numbers");
}

std::vector<uint8_t> BytesArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i < info.Length() && info[i].IsTypedArray()) {
    Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_uint8_array) {
      Napi::Uint8Array a = ta.As<Napi::Uint8Array>();
      return std::vector<uint8_t>(a.Data(), a.Data() + a.ElementLength());
    }
  }
  throw ArgError(info.Env(), std::string(what) + " must be a Uint8Array");
}

Napi::Object OptionsArg(const Napi::CallbackInfo& info, size_t i) {
  if (i < info.Length() && info[i].IsObject()) return info[i].As<Napi::Object>();
  if (i < info.Length() && !info[i].IsUndefined() && !info[i].IsNull())
    throw ArgError(info.Env(), "options must be an object");
  return Napi::Object::New(info.Env());
}

double NumberOpt(Napi::Object o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw ArgError(o.Env(), std::string("option ") + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool BoolOpt(Napi::Object o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsBoolean()) throw ArgError(o.Env(), std::string("option ") + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string StringOpt(Napi::Object o, const char* key, const std::string& fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsString()) throw ArgError(o.Env(), std::string("option ") + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Function FunctionArg(const Napi::CallbackInfo& info, size_t i) {
  if (i < info.Length() && info[i].IsFunction()) return info[i].As<Napi::Function>();
  if (i < info.Length() && !info[i].IsUndefined() && !info[i].IsNull())
    throw ArgError(info.Env(), "callback must be a function");
  return Napi::Function();
}

// ----------------------------------------------------------------- module

static Napi::Value AbiVersion(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), rwkvx_abi_version());
}

static Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), rwkvx_build_info());
}

static Napi::Value StatusName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), rwkvx_status_name(static_cast<rwkvx_status>(IntegerArg(info, 0, "status"))));
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new InstanceData();
  env.SetInstanceData(data);
  data->model = Napi::Persistent(Model::Define(env));
  data->session = Napi::Persistent(Session::Define(env));
  data->snapshot = Napi::Persistent(Snapshot::Define(env));
  data->sampler = Napi::Persistent(Sampler::Define(env));
  exports.Set("Model", data->model.Value());
  exports.Set("Session", data->session.Value());
  exports.Set("Snapshot", data->snapshot.Value());
  exports.Set("Sampler", data->sampler.Value());
  exports.Set("abiVersion", Napi::Function::New(env, AbiVersion, "abiVersion"));
  exports.Set("headerAbiVersion", Napi::Number::New(env, RWKVX_ABI_VERSION));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo, "buildInfo"));
  exports.Set("statusName", Napi::Function::New(env, StatusName, "statusName"));
  exports.Set("loadModel", Napi::Function::New(env, LoadModel, "loadModel"));
  exports.Set("convert", Napi::Function::New(env, Convert, "convert"));
  return exports;
}

}  // namespace addon

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return addon::Init(env, exports); }

NODE_API_MODULE(rwkvx, InitAddon)
