// READDIR's per-entry work in one call: linux_dirent64 records, as getdents64 returns them, become
// struct fuse_dirent records in the reply (src/fuse/dirents.ts, DirentEncoder.addRecords). In
// JavaScript each entry cost two BigInt reads and writes, a Buffer view of its name and a dozen
// calls; a plain READDIR of a large directory spent half its time there (bench profile).
//
//   linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; } (NUL-terminated)
//   fuse_dirent    { u64 ino; u64 off; u32 namelen; u32 type; char name[]; }  padded to 8 bytes
//
// encodeDirents(src, srcPos, srcEnd, dst, dstPos, dstEnd, out: Float64Array(4)) converts records
// from src[srcPos, srcEnd) into dst[dstPos, dstEnd) and stops when:
//   0 CONSUMED   fewer than a record header's bytes are left in the source;
//   1 FULL       the next record does not fit in what is left of the destination;
//   2 PER_ENTRY  the next record's name is not one a guest may get (empty, longer than NAME_MAX,
//                with a '/'): the JavaScript path handles (and logs) that record;
//  -5 (-EIO)     a malformed record (d_reclen too small or past srcEnd).
// out[0] = source position after the records converted (the next record's), out[1] = destination
// position after them, out[2] = records converted, out[3] = position of the last converted record
// in the source (-1: none; its d_off is the caller's new cursor). Every position is checked
// against its buffer before anything is read or written.
#include <napi.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "util.h"

namespace vfs {

namespace {
constexpr size_t kDirent64Header = 19;  // d_ino 8 + d_off 8 + d_reclen 2 + d_type 1
constexpr size_t kFuseDirentHeader = 24;
constexpr size_t kNameMax = 255;

enum Status : int32_t { kConsumed = 0, kFull = 1, kPerEntry = 2 };

// What encodeDirents sees of a source or destination window, validated.
struct Window {
  uint8_t* data;
  size_t pos;
  size_t end;
};

Window ArgWindow(const Napi::CallbackInfo& info, size_t i) {
  Napi::Uint8Array buf = ArgBytes(info, i);
  int64_t pos = ArgInt64(info, i + 1);
  int64_t end = ArgInt64(info, i + 2);
  if (pos < 0 || end < pos || static_cast<uint64_t>(end) > buf.ByteLength()) {
    throw Napi::RangeError::New(info.Env(), "encodeDirents: window outside its buffer");
  }
  return {buf.Data(), static_cast<size_t>(pos), static_cast<size_t>(end)};
}

Napi::Value EncodeDirents(const Napi::CallbackInfo& info) {
  Window src = ArgWindow(info, 0);
  Window dst = ArgWindow(info, 3);
  if (info.Length() < 7 || !info[6].IsTypedArray() || info[6].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[6].As<Napi::Float64Array>().ElementLength() < 4) {
    throw Napi::TypeError::New(info.Env(), "encodeDirents: out must be a Float64Array(4)");
  }
  Napi::Float64Array out = info[6].As<Napi::Float64Array>();

  int32_t status = kConsumed;
  double count = 0;
  double last = -1;
  while (src.end - src.pos >= kDirent64Header) {
    const uint8_t* rec = src.data + src.pos;
    uint16_t reclen;
    memcpy(&reclen, rec + 16, sizeof reclen);
    if (reclen < kDirent64Header + 1 || reclen > src.end - src.pos) {
      status = -EIO;
      break;
    }
    const uint8_t* name = rec + kDirent64Header;
    size_t room = reclen - kDirent64Header;
    const void* nul = memchr(name, 0, room);
    size_t nameLen = nul ? static_cast<size_t>(static_cast<const uint8_t*>(nul) - name) : room;
    if (nameLen == 0 || nameLen > kNameMax || memchr(name, '/', nameLen) != nullptr) {
      status = kPerEntry;
      break;
    }
    size_t size = (kFuseDirentHeader + nameLen + 7) & ~static_cast<size_t>(7);
    if (size > dst.end - dst.pos) {
      status = kFull;
      break;
    }
    uint8_t* d = dst.data + dst.pos;
    memcpy(d, rec, 16);  // ino, off: the same bytes
    uint32_t namelen32 = static_cast<uint32_t>(nameLen);
    uint32_t type = rec[18];
    memcpy(d + 16, &namelen32, 4);
    memcpy(d + 20, &type, 4);
    memcpy(d + kFuseDirentHeader, name, nameLen);
    memset(d + kFuseDirentHeader + nameLen, 0, size - kFuseDirentHeader - nameLen);
    last = static_cast<double>(src.pos);
    count++;
    src.pos += reclen;
    dst.pos += size;
  }
  out[0] = static_cast<double>(src.pos);
  out[1] = static_cast<double>(dst.pos);
  out[2] = count;
  out[3] = last;
  return Napi::Number::New(info.Env(), status);
}
}  // namespace

void InitDirentEncode(Napi::Env env, Napi::Object exports) {
  exports.Set("encodeDirents", Napi::Function::New(env, EncodeDirents, "encodeDirents"));
}

}  // namespace vfs
