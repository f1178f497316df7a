// Placeholder: filled in by its issue.
#include <napi.h>
namespace vfs {
void InitSandbox(Napi::Env, Napi::Object) {}
}  // namespace vfs
