// syslog(3) for --syslog: Node cannot write to /dev/log (a Unix datagram socket).
#include <napi.h>
#include <syslog.h>

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
}  // namespace

void InitSyslog(Napi::Env env, Napi::Object exports) {
  exports.Set("syslogOpen", Napi::Function::New(env, SyslogOpen, "syslogOpen"));
  exports.Set("syslog", Napi::Function::New(env, Syslog, "syslog"));
}

}  // namespace vfs
