// Internal error type. Engine code throws rwkvx::Error; the C ABI layer
// (api.cpp) catches it and turns it into a status code plus last-error text.
#pragma once
#include <cstdarg>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "rwkvx.h"

namespace rwkvx {

class Error : public std::runtime_error {
 public:
  Error(rwkvx_status code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  rwkvx_status code() const { return code_; }

 private:
  rwkvx_status code_;
};

[[noreturn]] __attribute__((format(printf, 2, 3))) inline void fail(rwkvx_status code, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  throw Error(code, buf);
}

}  // namespace rwkvx
