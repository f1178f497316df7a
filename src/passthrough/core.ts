/**
 * State and helpers every part of the passthrough shares: the inode and handle tables, the
 * /proc/self/fd descriptor, what the session negotiated, the id translation, and the few
 * operations several FUSE requests build on (lookup of one name, attributes, opening an inode,
 * clearing privileges). passthrough.ts and the opcode-family files (entries, attributes, files, directories, create, xattr, locks) use it.
 */
import { E, ErrnoError } from '../filesystem/errors.js';
import { FUSE_ATTR_SUBMOUNT, STAT_RECORD_SIZE, StatField, type DirectIo, type Entry, type OpenReply, type RequestContext } from '../filesystem/filesystem.js';
import * as sys from '../native/syscalls.js';
import { C } from '../native/syscalls.js';
import { cachePolicy, type CachePolicy } from './cache-policy.js';
import { checkIds } from './guest-input.js';
import { HandleTable } from './handle-table.js';
import { InodeTable, S_IFDIR, S_IFMT, S_IFREG, type Inode } from './inode-table.js';
import type { Logger } from '../logger.js';
import type { Settings } from './options.js';

/** fuse_attr.flags */

export const LOOKUP_FLAGS = C.O_PATH | C.O_NOFOLLOW;
export const BENEATH = C.RESOLVE_BENEATH | C.RESOLVE_NO_SYMLINKS | C.RESOLVE_NO_MAGICLINKS;

const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_IXGRP = 0o010;
/** Room for struct file_handle plus the mount id (sys_name_to_handle_at's layout). */
const HANDLE_BUF = 16 + 128;
/**
 * statfs f_type of FUSE. A FUSE file system makes handles (name_to_handle_at works) but, unless
 * its server supports exports, opens them only while the kernel still caches the inode: once
 * ours is closed (the descriptor cache let it go) the inode may be evicted and the handle is
 * ESTALE for good. So no handles on FUSE mounts (sshfs, rclone, … as a share or below one).
 */
const FUSE_SUPER_MAGIC = 0x65735546;

/** Throws the errno of a failed raw result (< 0); returns the result otherwise. */
export function check(r: number, syscall: string): number {
  if (r < 0) throw new ErrnoError(-r, syscall);
  return r;
}

/** The host identity a request runs with: translated uid, gid, and supplementary group or -1. */
export interface HostIds {
  uid: number;
  gid: number;
  supp: number;
}

export class PtCore {
  readonly policy: CachePolicy;
  readonly inodes: InodeTable;
  readonly handles: HandleTable;
  procSelfFd = -1;
  /** While closing the file system: close descriptors inline, so they are gone on return. */
  closeInline = false;
  /** What the current session negotiated (set by init()). */
  submounts = false;
  writeback = false;
  posixAcl = false;
  killprivV2 = false;
  securityLabel = false;
  /** Hook for inode eviction (the lock table's). */
  onEvict: ((nodeid: number) => void) | undefined = undefined;
  private readonly handleBuf = Buffer.allocUnsafe(HANDLE_BUF);
  /** Mounts whose inodes are not held by handle (FUSE_SUPER_MAGIC), by mount id. */
  private readonly noHandleMounts = new Set<number>();
  /** Every host mount the guest reached: mount id → [O_PATH fd of a dir or file on it, isDir]. */
  private readonly seenMounts = new Map<number, [number, boolean]>();

  constructor(
    readonly s: Settings,
    readonly log: Logger,
  ) {
    this.policy = cachePolicy(s.cache);
    const closeFd = (fd: number): void => this.closeQuietly(fd);
    this.inodes = new InodeTable(closeFd, (nodeid) => this.onEvict?.(nodeid), s.handleDescriptorCache);
    this.handles = new HandleTable(closeFd);
  }

  // ---- credentials --------------------------------------------------------------------

  /** The caller's identity on the host (--translate-*; EPERM for a forbidden id). */
  hostIds(ctx: RequestContext): HostIds {
    checkIds(ctx);
    const groups = ctx.supplementaryGroups;
    return {
      uid: this.s.uidMap.toHost(ctx.uid),
      gid: this.s.gidMap.toHost(ctx.gid),
      supp: groups !== undefined && groups.length > 0 ? this.s.gidMap.toHost(groups[0]) : -1,
    };
  }

  /** A host attribute record as the guest must see it: uid/gid translated in place. */
  mapAttr(attr: Buffer): Buffer {
    if (this.s.uidMap.identity && this.s.gidMap.identity) return attr;
    attr.writeUInt32LE(this.s.uidMap.toGuest(attr.readUInt32LE(StatField.uid)), StatField.uid);
    attr.writeUInt32LE(this.s.gidMap.toGuest(attr.readUInt32LE(StatField.gid)), StatField.gid);
    return attr;
  }

  // ---- inodes -------------------------------------------------------------------------

  /** Attributes of a pinned inode, as the guest sees them. */
  async stat(d: Inode): Promise<Buffer> {
    const attr = Buffer.allocUnsafe(STAT_RECORD_SIZE);
    check(await sys.statx(d.fd, null, C.AT_SYMLINK_NOFOLLOW, attr), 'statx');
    return this.mapAttr(attr);
  }

  entry(nodeid: number, attr: Buffer): Entry {
    return { nodeid, generation: 0, attr, entryTimeout: this.policy.entryTimeout, attrTimeout: this.policy.attrTimeout };
  }

  /**
   * One lookup of `name` in the (pinned) directory `parent`: +1 reference on the result. The
   * part after the last await is synchronous, so the table cannot change between finding an
   * existing inode and taking the reference. `isNew`: the inode cannot be one the table holds
   * (we just made the name, or its d_ino is unknown: mayHold), so the known-inode shortcut
   * (knownEntry) would only cost a system call.
   */
  async lookupIn(parent: Inode, name: Buffer, isNew = false): Promise<Entry> {
    if (!isNew) {
      const attr = Buffer.allocUnsafe(STAT_RECORD_SIZE);
      const known = this.knownEntry(parent, attr, await sys.statx(parent.fd, name, C.AT_SYMLINK_NOFOLLOW, attr));
      if (known !== undefined) return known;
    }
    const fd = check(await sys.openat2(parent.fd, name, LOOKUP_FLAGS, 0, BENEATH), 'openat2');
    return this.adoptFd(parent, fd);
  }

  /**
   * The first step of every lookup: `attr` holds statx of the name (result `r`). The name of an
   * inode we already hold needs no new descriptor — one statx instead of openat2 + statx +
   * close, and a repeated LOOKUP is the common case. The name is one validated component
   * (checkName: no '/', not '.' or '..') and AT_SYMLINK_NOFOLLOW does not follow it, so this
   * reaches exactly what openat2 would open. Returns the entry (+1 reference), throws ENOENT
   * (which openat2 would report alike), or undefined: take the full path (unknown inode, any
   * other error). Synchronous, so the table cannot change between find and reference.
   */
  private knownEntry(parent: Inode, attr: Buffer, r: number): Entry | undefined {
    if (r === -E.ENOENT) throw new ErrnoError(E.ENOENT, 'openat2');
    if (r < 0) return undefined;
    const known = this.inodes.find(attr);
    // A handle-backed inode we hold no descriptor of may be gone, its number another file's now:
    // the full lookup compares handles (InodeTable.adoptHandle).
    if (known < 0 || !this.inodes.holdsInode(known) || !this.mountNoted(attr)) return undefined;
    this.markSubmount(parent, attr);
    return this.entry(this.inodes.ref(known), this.mapAttr(attr));
  }

  /**
   * Takes an O_PATH descriptor `fd` of an inode found in `parent` into the table (+1 lookup
   * reference; the table owns or closes `fd` in every case). Same rule as lookupIn: nothing but
   * synchronous code after the last await.
   */
  async adoptFd(parent: Inode, fd: number): Promise<Entry> {
    const attr = Buffer.allocUnsafe(STAT_RECORD_SIZE);
    const r = await sys.statx(fd, null, C.AT_SYMLINK_NOFOLLOW, attr);
    if (r < 0) {
      this.closeQuietly(fd);
      throw new ErrnoError(-r, 'statx');
    }
    this.markSubmount(parent, attr);
    this.noteMount(attr, fd);
    let handle: Buffer | undefined;
    if (this.s.inodeFileHandles !== 'never' && this.needsHandle(attr)) {
      try {
        // The table opens the handle on its mount's registered descriptor (none: keep the fd).
        const mountFd = await this.mountFdFor(parent, fd, attr);
        handle = mountFd < 0 ? undefined : await this.fileHandle(fd);
      } catch (err) {
        this.closeQuietly(fd);
        throw err;
      }
    }
    return this.adopted(fd, attr, handle);
  }

  /** The last, synchronous step of a lookup: `fd` (and `handle`, if one was made) into the table. */
  private adopted(fd: number, attr: Buffer, handle: Buffer | undefined): Entry {
    const nodeid = handle !== undefined ? this.inodes.adoptHandle(handle, attr, fd) : this.inodes.adopt(fd, attr);
    return this.entry(nodeid, this.mapAttr(attr));
  }

  /**
   * lookupIn without a promise — the same steps as lookupIn + adoptFd — when every system call
   * runs inline; undefined, before doing anything, otherwise.
   */
  lookupInSync(parent: Inode, name: Buffer, isNew = false): Entry | undefined {
    if (!sys.inline()) return undefined;
    const attr = Buffer.allocUnsafe(STAT_RECORD_SIZE);
    if (!isNew) {
      const known = this.knownEntry(parent, attr, sys.statx(parent.fd, name, C.AT_SYMLINK_NOFOLLOW, attr) as number);
      if (known !== undefined) return known;
    }
    const fd = check(sys.openat2(parent.fd, name, LOOKUP_FLAGS, 0, BENEATH) as number, 'openat2');
    const r = sys.statx(fd, null, C.AT_SYMLINK_NOFOLLOW, attr) as number;
    if (r < 0) {
      this.closeQuietly(fd);
      throw new ErrnoError(-r, 'statx');
    }
    this.markSubmount(parent, attr);
    this.noteMount(attr, fd);
    let handle: Buffer | undefined;
    if (this.s.inodeFileHandles !== 'never' && this.needsHandle(attr)) {
      try {
        handle = this.mountFdForSync(parent, fd, attr) < 0 ? undefined : this.fileHandleSync(fd);
      } catch (err) {
        this.closeQuietly(fd);
        throw err;
      }
    }
    return this.adopted(fd, attr, handle);
  }

  /** Whether a new lookup of `attr` must make its file handle: unknown, or known without a descriptor (compare). */
  private needsHandle(attr: Buffer): boolean {
    const known = this.inodes.find(attr);
    return known < 0 || !this.inodes.holdsInode(known);
  }

  /** With --announce-submounts, a directory on another device is flagged as a submount. */
  private markSubmount(parent: Inode, attr: Buffer): void {
    if (this.submounts && (attr.readUInt32LE(StatField.mode) & S_IFMT) === S_IFDIR && !parent.sameDevice(attr)) {
      attr.writeUInt32LE(FUSE_ATTR_SUBMOUNT, StatField.flags);
    }
  }

  /** stat() without a promise when system calls run inline; undefined otherwise. */
  statSync(d: Inode): Buffer | undefined {
    if (!sys.inline()) return undefined;
    const attr = Buffer.allocUnsafe(STAT_RECORD_SIZE);
    check(sys.statx(d.fd, null, C.AT_SYMLINK_NOFOLLOW, attr) as number, 'statx');
    return this.mapAttr(attr);
  }

  /**
   * The file handle of `fd` (--inode-file-handles), or undefined to keep the descriptor:
   * `prefer` falls back where the file system has no handles; `mandatory` fails the lookup.
   */
  private async fileHandle(fd: number): Promise<Buffer | undefined> {
    const buf = Buffer.allocUnsafe(HANDLE_BUF); // its own: other lookups run on the pool meanwhile
    return this.handleOf(await sys.nameToHandleAt(fd, buf), buf);
  }

  /** fileHandle() when system calls run inline (one buffer: adoptHandle copies it right away). */
  private fileHandleSync(fd: number): Buffer | undefined {
    return this.handleOf(sys.nameToHandleAt(fd, this.handleBuf) as number, this.handleBuf);
  }

  private handleOf(n: number, buf: Buffer): Buffer | undefined {
    if (n >= 0) return buf.subarray(8, 8 + n);
    return this.noHandle(-n, 'name_to_handle_at');
  }

  private noHandle(errno: number, what: string): undefined {
    if (this.s.inodeFileHandles === 'mandatory') throw new ErrnoError(errno, `${what} (--inode-file-handles=mandatory)`);
    return undefined;
  }

  /**
   * open_by_handle_at's mount descriptor for the mount of `attr` (an I/O descriptor: it refuses
   * O_PATH ones): the registered one, else the parent directory reopened when it is on the same
   * mount, else the inode itself when it is a directory or regular file (a mount root or a
   * bind-mounted file). -1 (prefer) when there is none to be had.
   */
  private async mountFdFor(parent: Inode, fd: number, attr: Buffer): Promise<number> {
    const mnt = attr.readUInt32LE(StatField.mntId);
    const decided = this.decidedMountFd(mnt);
    if (decided !== undefined) return decided;
    const from = this.mountFdSource(parent, fd, attr);
    return this.registerMountFd(mnt, from === undefined ? -E.EOPNOTSUPP : await sys.reopen(this.procSelfFd, from[0], from[1]));
  }

  /** mountFdFor() when system calls run inline. */
  private mountFdForSync(parent: Inode, fd: number, attr: Buffer): number {
    const mnt = attr.readUInt32LE(StatField.mntId);
    const decided = this.decidedMountFd(mnt);
    if (decided !== undefined) return decided;
    const from = this.mountFdSource(parent, fd, attr);
    return this.registerMountFd(mnt, from === undefined ? -E.EOPNOTSUPP : (sys.reopen(this.procSelfFd, from[0], from[1]) as number));
  }

  /** The mount's registered descriptor, -1 (prefer) for a mount without handles, or undefined: not known yet. */
  private decidedMountFd(mnt: number): number | undefined {
    const known = this.inodes.mountFd(mnt);
    if (known !== undefined) return known;
    if (this.noHandleMounts.has(mnt)) return this.noHandle(E.EOPNOTSUPP, 'file handles on a FUSE mount') ?? -1;
    return undefined;
  }

  /** The descriptor to reopen as a mount descriptor, and how; undefined if none will do. */
  private mountFdSource(parent: Inode, fd: number, attr: Buffer): [number, number] | undefined {
    const type = attr.readUInt32LE(StatField.mode) & S_IFMT;
    if (parent.sameDevice(attr)) return [parent.fd, C.O_RDONLY | C.O_DIRECTORY];
    if (type === S_IFDIR) return [fd, C.O_RDONLY | C.O_DIRECTORY];
    if (type === S_IFREG) return [fd, C.O_RDONLY | C.O_NONBLOCK];
    return undefined;
  }

  /** Registers `r` (a reopen's result) as the mount's descriptor; -1 (prefer) if it failed. */
  private registerMountFd(mnt: number, r: number): number {
    if (r < 0) return this.noHandle(-r, 'mount descriptor') ?? -1;
    if (sys.sys.sys_fstatfs_type(r) === FUSE_SUPER_MAGIC) {
      this.closeQuietly(r);
      this.noHandleMounts.add(mnt);
      return this.noHandle(E.EOPNOTSUPP, 'file handles on a FUSE mount') ?? -1;
    }
    // Another lookup on this mount may have registered one meanwhile: keep that.
    const again = this.inodes.mountFd(mnt);
    if (again !== undefined) {
      this.closeQuietly(r);
      return again;
    }
    this.inodes.setMountFd(mnt, r);
    return r;
  }

  /**
   * Checks that file handles work for the share (start-up; procSelfFd must be open); `prefer`
   * falls back to never, `mandatory` throws.
   */
  async probeFileHandles(rootFd: number, rootAttr: Buffer): Promise<void> {
    if (this.s.inodeFileHandles === 'never') return;
    const buf = Buffer.allocUnsafe(HANDLE_BUF);
    const n = await sys.nameToHandleAt(rootFd, buf);
    let err = n < 0 ? -n : 0;
    if (err === 0 && sys.sys.sys_fstatfs_type(rootFd) === FUSE_SUPER_MAGIC) err = E.EOPNOTSUPP; // see FUSE_SUPER_MAGIC
    if (err === 0) {
      const mountFd = await sys.reopen(this.procSelfFd, rootFd, C.O_RDONLY | C.O_DIRECTORY);
      if (mountFd < 0) err = -mountFd;
      else {
        const fd = await sys.openByHandleAt(mountFd, buf.subarray(8, 8 + n), C.O_PATH);
        if (fd < 0) err = -fd;
        else this.closeQuietly(fd);
        if (err === 0) this.inodes.setMountFd(rootAttr.readUInt32LE(StatField.mntId), mountFd);
        else this.closeQuietly(mountFd);
      }
    }
    if (err === 0) return;
    if (this.s.inodeFileHandles === 'mandatory') {
      throw new ErrnoError(err, `--inode-file-handles=mandatory: file handles do not work for ${this.s.root}`);
    }
    const why = 'file handles do not work for the shared directory; using O_PATH descriptors';
    if (this.s.inodeFileHandlesDefault) this.log.info({ errno: err }, why);
    else this.log.warn({ errno: err }, why);
    this.s.inodeFileHandles = 'never';
  }

  // ---- opening ------------------------------------------------------------------------

  /** A new I/O descriptor for a pinned inode (through /proc/self/fd). */
  async reopen(d: Inode, flags: number): Promise<number> {
    return check(await sys.reopen(this.procSelfFd, d.fd, flags), 'open');
  }

  /** An I/O descriptor for a (pinned) regular file or directory, registered as a handle. */
  async openInode(d: Inode, flags: number): Promise<OpenReply> {
    if (!d.isOpenable) throw new ErrnoError(E.EBADF, 'not a regular file or directory');
    const fd = await this.reopen(d, flags);
    if (!d.isDir) return this.addFileHandle(d.nodeid, fd, flags);
    return { fh: this.handles.add(d.nodeid, fd, true).fh, openFlags: this.policy.dirOpenFlags };
  }

  /** A regular file's I/O descriptor, opened with `flags`, becomes a handle: the OPEN/CREATE/TMPFILE reply. */
  addFileHandle(nodeid: number, fd: number, flags: number): OpenReply {
    const h = this.handles.add(nodeid, fd, false);
    return { fh: h.fh, openFlags: this.fileOpenFlags, directIo: this.directIoFor(fd, flags) };
  }

  /**
   * What a regular file's handle may have served without us (DirectIo): a READ here is only
   * the preadv; a WRITE is only the pwritev unless a remapped security.capability must be
   * removed first (CVE-2021-20263: dropCapability). The descriptor stays open until the
   * handle is released or the session ends (HandleTable).
   */
  private directIoFor(fd: number, flags: number): DirectIo {
    const access = flags & C.O_ACCMODE;
    return { fd, read: access !== C.O_WRONLY, write: access !== C.O_RDONLY && this.s.capabilityXattr === undefined };
  }

  /** FOPEN_* for files (the cache policy's). */
  get fileOpenFlags(): number {
    return this.policy.fileOpenFlags;
  }

  // ---- privileges ---------------------------------------------------------------------

  /**
   * Clears what the VFS clears when a caller without CAP_FSETID writes or truncates (kernel
   * should_remove_suid): S_ISUID always, S_ISGID when the group may execute. `fd` is an I/O
   * descriptor, or with `inode` an O_PATH one (then changed through /proc/self/fd).
   */
  async killSuidSgid(fd: number, inode?: Inode): Promise<void> {
    const attr = Buffer.allocUnsafe(STAT_RECORD_SIZE);
    check(await sys.statx(fd, null, C.AT_SYMLINK_NOFOLLOW, attr), 'statx');
    const mode = attr.readUInt32LE(StatField.mode);
    if ((mode & S_IFMT) !== S_IFREG) return;
    let kill = mode & S_ISUID;
    if ((mode & (S_ISGID | S_IXGRP)) === (S_ISGID | S_IXGRP)) kill |= S_ISGID;
    if (kill === 0) return;
    const newMode = mode & 0o7777 & ~kill;
    const r = inode !== undefined ? await sys.fchmodat(this.procSelfFd, inode.procName, newMode) : await sys.fchmodat(fd, null, newMode);
    check(r, 'fchmod');
  }

  /** Clears S_ISGID alone (setting an access ACL, FUSE_SETXATTR_ACL_KILL_SGID). */
  async killSgid(d: Inode): Promise<void> {
    const attr = Buffer.allocUnsafe(STAT_RECORD_SIZE);
    check(await sys.statx(d.fd, null, C.AT_SYMLINK_NOFOLLOW, attr), 'statx');
    const mode = attr.readUInt32LE(StatField.mode);
    if ((mode & S_ISGID) === 0) return;
    check(await sys.fchmodat(this.procSelfFd, d.procName, mode & 0o7777 & ~S_ISGID), 'fchmod');
  }

  /** How the *xattr calls reach a pinned inode (its O_PATH descriptor; see syscalls_ext.h). */
  xattrHow(d: Inode): number {
    return d.isOpenable ? C.XATTR_VIA_REOPEN : C.XATTR_VIA_PATH;
  }

  /**
   * With --xattrmap remapping security.capability, the host kernel no longer removes the
   * guest's file capability on write, truncate or chown: we do (CVE-2021-20263). `fd` is an I/O
   * descriptor, or with `inode` that inode's O_PATH descriptor.
   */
  async dropCapability(fd: number, inode?: Inode): Promise<void> {
    const name = this.s.capabilityXattr;
    if (name === undefined) return;
    const how = inode === undefined ? C.XATTR_VIA_FD : this.xattrHow(inode);
    const r = await sys.removexattr(this.procSelfFd, fd, how, name);
    if (r < 0 && r !== -E.ENODATA && r !== -E.EOPNOTSUPP) throw new ErrnoError(-r, 'removexattr');
  }

  // ---- mounts -------------------------------------------------------------------------

  /** Whether noteMount() has nothing left to do for `attr`. */
  mountNoted(attr: Buffer): boolean {
    const type = attr.readUInt32LE(StatField.mode) & S_IFMT;
    return (type !== S_IFDIR && type !== S_IFREG) || this.seenMounts.has(attr.readUInt32LE(StatField.mntId));
  }

  /** Remembers the mount of a directory or regular file (SYNCFS without submounts). */
  noteMount(attr: Buffer, fd: number): void {
    const mnt = attr.readUInt32LE(StatField.mntId);
    if (this.seenMounts.has(mnt)) return;
    const type = attr.readUInt32LE(StatField.mode) & S_IFMT;
    if (type !== S_IFDIR && type !== S_IFREG) return;
    const dup = sys.sys.sys_dup(fd)!;
    if (dup >= 0) this.seenMounts.set(mnt, [dup, type === S_IFDIR]);
  }

  mounts(): IterableIterator<[number, boolean]> {
    return this.seenMounts.values();
  }

  forgetMounts(): void {
    for (const [fd] of this.seenMounts.values()) this.closeQuietly(fd);
    this.seenMounts.clear();
  }

  // ---- descriptors --------------------------------------------------------------------

  closeQuietly(fd: number): void {
    const r = this.closeInline ? sys.sys.sys_close(fd)! : sys.close(fd);
    if (typeof r === 'number') {
      if (r < 0) this.log.warn({ fd, errno: -r }, 'close failed');
    } else {
      r.then(
        (n) => {
          if (n < 0) this.log.warn({ fd, errno: -n }, 'close failed');
        },
        () => {},
      );
    }
  }
}
