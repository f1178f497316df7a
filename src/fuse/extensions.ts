/**
 * Request extensions of the creating opcodes (CREATE, MKNOD, MKDIR, SYMLINK, TMPFILE).
 *
 * Two wire forms carry the same records:
 * - 7.38+ guests count them in fuse_in_header.total_extlen (8-byte units) after the arguments;
 * - 7.36/7.37 guests with FUSE_SECURITY_CTX append the security-context block right after the
 *   name(s), inside the arguments (there was no total_extlen yet).
 * So after the names, whatever argument bytes remain are parsed as extensions too — but only
 * when SECURITY_CTX or CREATE_SUPP_GROUP was negotiated; otherwise trailing bytes stay an error.
 *
 * Records (abi.ts ExtHeader): { u32 size (header included, multiple of 8); u32 type }.
 * - type 0..31: a security-context header, type = number of contexts. The kernel sends 0 or 1;
 *   more is refused (EINVAL), as the Rust virtiofsd does.
 * - type 32 (FUSE_EXT_GROUPS): { u32 nr_groups; u32 groups[nr] } — the kernel sends one group.
 * - anything else, a record that does not fit, a repeated record: EINVAL (extensions are only
 *   sent when negotiated, so an unknown one is a malformed request, never something to skip).
 */
import type { SecurityContext } from '../filesystem/filesystem.js';
import { ExtHeader, FUSE_EXT_GROUPS, FUSE_MAX_NR_SECCTX, InitFlag, Secctx, XATTR_NAME_MAX, XATTR_SIZE_MAX } from './abi.js';
import { ByteReader, DecodeError } from './codec.js';

/** Where parsed extensions go (a FuseCall). */
export interface ExtensionTarget {
  supplementaryGroups: readonly number[] | undefined;
  securityContext: SecurityContext | undefined;
}

/** Supplementary groups accepted in one request (the kernel sends exactly one). */
const MAX_GROUPS = 32;

/**
 * Consumes the rest of `args` (names already read) and the extension area `ext` of a creating
 * request, filling `target`. `sessionFlags` are the negotiated INIT flags.
 */
export function readCreateExtensions(args: ByteReader, ext: ByteReader, sessionFlags: bigint, target: ExtensionTarget): void {
  const secctx = (sessionFlags & InitFlag.SECURITY_CTX) !== 0n;
  const groups = (sessionFlags & InitFlag.CREATE_SUPP_GROUP) !== 0n;
  if (!secctx && !groups) {
    args.end();
    return;
  }
  parseRecords(args, secctx, groups, target);
  parseRecords(ext, secctx, groups, target);
}

function parseRecords(r: ByteReader, secctx: boolean, groups: boolean, target: ExtensionTarget): void {
  while (r.remaining > 0) {
    const off = r.struct(ExtHeader.SIZE, 'fuse_ext_header');
    const size = r.buf.readUInt32LE(off + ExtHeader.size);
    const type = r.buf.readUInt32LE(off + ExtHeader.type);
    if (size < ExtHeader.SIZE || size - ExtHeader.SIZE > r.remaining) {
      throw new DecodeError(`extension of ${size} bytes does not fit the request`);
    }
    const body = new ByteReader(r.buf, r.offset, size - ExtHeader.SIZE);
    r.skip(size - ExtHeader.SIZE);
    if (type <= FUSE_MAX_NR_SECCTX) {
      if (!secctx) throw new DecodeError('security context without FUSE_SECURITY_CTX');
      if (target.securityContext !== undefined) throw new DecodeError('two security-context extensions');
      target.securityContext = parseSecctx(body, type);
    } else if (type === FUSE_EXT_GROUPS) {
      if (!groups) throw new DecodeError('supplementary groups without FUSE_CREATE_SUPP_GROUP');
      if (target.supplementaryGroups !== undefined) throw new DecodeError('two supplementary-group extensions');
      target.supplementaryGroups = parseGroups(body);
    } else {
      throw new DecodeError(`unknown request extension ${type}`);
    }
  }
}

/** One fuse_secctx; undefined for nr 0 (no LSM in the guest computed a context). */
function parseSecctx(r: ByteReader, nr: number): SecurityContext | undefined {
  if (nr === 0) return undefined;
  if (nr > 1) throw new DecodeError(`${nr} security contexts (at most one is supported)`);
  const off = r.struct(Secctx.SIZE, 'fuse_secctx');
  const size = r.buf.readUInt32LE(off + Secctx.size);
  const name = r.cstring('security context name');
  if (name.length === 0 || name.length > XATTR_NAME_MAX) throw new DecodeError('invalid security context name');
  if (size === 0 || size > XATTR_SIZE_MAX) throw new DecodeError(`security context of ${size} bytes`);
  const value = r.bytes(size);
  // The rest of the record is alignment padding.
  return { name: Buffer.from(name), value: Buffer.from(value) };
}

function parseGroups(r: ByteReader): number[] {
  const nr = r.u32();
  if (nr > MAX_GROUPS) throw new DecodeError(`${nr} supplementary groups`);
  r.need(nr * 4, 'fuse_supp_groups');
  const out: number[] = [];
  for (let i = 0; i < nr; i++) out.push(r.u32());
  return out;
}
