/**
 * The unit of the DAX window: 2 MiB. Linux maps files into the window in ranges of this size
 * (FUSE_DAX_SZ in fs/fuse/dax.c; we ask for that alignment with MAP_ALIGNMENT_LOG2), so the
 * mapping table has one slot per range, and the frontend's window allocator and the DAX trace
 * count in the same ranges.
 */
export const DAX_RANGE = 2 * 1024 * 1024;
