namespace Vtx.Fuzz;

/// <summary>Small valid boot images and the mutations the fuzzer applies to them.</summary>
public static class LoaderImages
{
    /// <summary>A multiboot v1 kernel with the address fields (a.out kludge) loaded at 1 MiB: header, then random code.</summary>
    public static byte[] Multiboot(ref Rng rng)
    {
        var img = new byte[0x200 + rng.Below(0x400)];
        rng.Fill(img.AsSpan(0x20));
        const uint magic = 0x1BAD_B002, flags = 0x0001_0000 | 3;
        Put(img, 0, magic);
        Put(img, 4, flags);
        Put(img, 8, unchecked(0u - magic - flags));
        Put(img, 12, 0x10_0000);          // header_addr
        Put(img, 16, 0x10_0000);          // load_addr
        Put(img, 20, 0);                  // load_end_addr: the whole file
        Put(img, 24, 0);                  // bss_end_addr: none
        Put(img, 28, 0x10_0020);          // entry_addr
        return img;
    }

    /// <summary>An ELF64 executable with one PT_LOAD segment at 1 MiB and its entry point inside it.</summary>
    public static byte[] Elf64(ref Rng rng)
    {
        int code = 0x100 + rng.Below(0x400);
        var img = new byte[120 + code];
        rng.Fill(img.AsSpan(120));
        img[0] = 0x7F; img[1] = (byte)'E'; img[2] = (byte)'L'; img[3] = (byte)'F';
        img[4] = 2; img[5] = 1; img[6] = 1;
        Put16(img, 16, 2);                // ET_EXEC
        Put16(img, 18, 0x3E);             // EM_X86_64
        Put(img, 20, 1);
        Put64(img, 24, 0x10_0000 + 120);  // e_entry
        Put64(img, 32, 64);               // e_phoff
        Put16(img, 52, 64);               // e_ehsize
        Put16(img, 54, 56);               // e_phentsize
        Put16(img, 56, 1);                // e_phnum
        Put16(img, 58, 64);               // e_shentsize
        Put(img, 64, 1);                  // PT_LOAD
        Put(img, 68, 5);                  // R+X
        Put64(img, 72, 0);                // p_offset
        Put64(img, 80, 0x10_0000);        // p_vaddr
        Put64(img, 88, 0x10_0000);        // p_paddr
        Put64(img, 96, (ulong)img.Length);
        Put64(img, 104, (ulong)img.Length + 0x1000);
        Put64(img, 112, 0x1000);
        return img;
    }

    /// <summary>Flips bytes, overwrites header words with edge values, truncates or extends.</summary>
    public static void Mutate(ref Rng rng, ref byte[] img)
    {
        int n = rng.Below(6);
        for (int i = 0; i < n; i++)
        {
            switch (rng.Below(5))
            {
                case 0: img[rng.Below(Math.Min(img.Length, 128))] ^= (byte)(1 << rng.Below(8)); break;
                case 1: img[rng.Below(img.Length)] = (byte)rng.Next(); break;
                case 2:
                {
                    int at = rng.Below(Math.Max(1, Math.Min(img.Length, 128) - 8));
                    Put64(img, at, rng.Pick(0UL, ulong.MaxValue, 0x8000_0000UL, 0xFFFF_FFFFUL, rng.Next(), 0x7FFF_FFFF_FFFF_FFFFUL));
                    break;
                }
                case 3: Array.Resize(ref img, Math.Max(1, rng.Below(img.Length))); break;
                default: Array.Resize(ref img, img.Length + rng.Below(4096)); break;
            }
        }
    }

    private static void Put16(byte[] b, int at, ushort v) { if (at + 2 <= b.Length) BitConverter.TryWriteBytes(b.AsSpan(at), v); }
    private static void Put(byte[] b, int at, uint v) { if (at + 4 <= b.Length) BitConverter.TryWriteBytes(b.AsSpan(at), v); }
    private static void Put64(byte[] b, int at, ulong v) { if (at + 8 <= b.Length) BitConverter.TryWriteBytes(b.AsSpan(at), v); }
}
