/**
 * Constants of the frontend's guest, free of native code (the pure modules — fuzz case
 * generation, the oracle — import only this): split-ring descriptor flags (virtio 1.x §2.7.5)
 * and where the frontend's RAM sits in the guest-physical and front-end virtual address spaces.
 */
export const DESC_F_NEXT = 1;
export const DESC_F_WRITE = 2;
export const DESC_F_INDIRECT = 4;
export const DESC_SIZE = 16;

/** Guest-physical address of the frontend's RAM (as announced in the memory table). */
export const RAM_GPA = 0x1000_0000n;
/** "Front-end virtual" address of the RAM: what vring addresses are expressed in. */
export const RAM_UVA = 0x7f00_0000_0000n;
