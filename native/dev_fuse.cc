// Placeholder: filled in by its issue.
#include <napi.h>
namespace vfs {
void InitDevFuse(Napi::Env, Napi::Object) {}
}  // namespace vfs
