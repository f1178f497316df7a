#include <napi.h>
namespace vfs {
void InitSyscalls(Napi::Env, Napi::Object) {}
}  // namespace vfs
