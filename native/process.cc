// Process-wide settings Node has no API for: syslog(3) (Node cannot write to /dev/log, a Unix
// datagram socket) and the open-file limit (every cached inode holds an O_PATH descriptor).
#include <napi.h>
#include <sys/resource.h>
#include <syslog.h>

#include <cerrno>
#include <string>

#include "util.h"

namespace vfs {

namespace {
std::string* ident = nullptr;  // openlog keeps the pointer: it must outlive every syslog call

Napi::Value SyslogOpen(const Napi::CallbackInfo& info) {
  delete ident;
  ident = new std::string(ArgString(info, 0));
  int facility = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : LOG_DAEMON;
  openlog(ident->c_str(), LOG_PID | LOG_NDELAY, facility);
  return info.Env().Undefined();
}

Napi::Value Syslog(const Napi::CallbackInfo& info) {
  int priority = ArgInt32(info, 0);
  std::string msg = ArgString(info, 1);
  syslog(priority, "%s", msg.c_str());
  return info.Env().Undefined();
}
// setNofileLimit(n) → the soft limit now in force, or -errno. n ≤ 0 raises the soft limit to
// the hard limit; otherwise both limits become n (raising the hard limit needs CAP_SYS_RESOURCE).
Napi::Value SetNofileLimit(const Napi::CallbackInfo& info) {
  int64_t n = ArgInt64(info, 0);
  rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) < 0) return Napi::Number::New(info.Env(), -errno);
  if (n <= 0) {
    lim.rlim_cur = lim.rlim_max;
  } else {
    lim.rlim_cur = lim.rlim_max = static_cast<rlim_t>(n);
  }
  if (setrlimit(RLIMIT_NOFILE, &lim) < 0) return Napi::Number::New(info.Env(), -errno);
  return Napi::Number::New(info.Env(), static_cast<double>(lim.rlim_cur));
}
}  // namespace

void InitProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("setNofileLimit", Napi::Function::New(env, SetNofileLimit, "setNofileLimit"));
  exports.Set("syslogOpen", Napi::Function::New(env, SyslogOpen, "syslogOpen"));
  exports.Set("syslog", Napi::Function::New(env, Syslog, "syslog"));
}

}  // namespace vfs
