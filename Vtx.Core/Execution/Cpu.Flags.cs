using System.Runtime.CompilerServices;

namespace Vtx;

public sealed partial class Cpu
{
    private const ulong StatusMask = (ulong)RFlags.Status;
    private const ulong CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, DF = 0x400, OF = 0x800;

    // RFLAGS image; its status bits are valid only while _fop == FlagOp.None.
    private ulong _rflags = 2;
    private Execution.FlagOp _fop;
    private byte _fsize = 8;
    private ulong _fres, _fsrc, _fdst, _faux;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetFlags(Execution.FlagOp op, int size, ulong dst, ulong src, ulong res)
    {
        _fop = op;
        _fsize = (byte)size;
        _fdst = dst;
        _fsrc = src;
        _fres = res;
    }

    /// <summary>ZF/SF/PF from <paramref name="res"/>; CF, AF, OF given as bits in <paramref name="explicitBits"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetFlagsResult(int size, ulong res, ulong explicitBits)
    {
        _fop = Execution.FlagOp.Result;
        _fsize = (byte)size;
        _fres = res;
        _faux = explicitBits;
    }

    private bool GetCF()
    {
        ulong m = Execution.Sz.Mask(_fsize);
        switch (_fop)
        {
            case Execution.FlagOp.None: return (_rflags & CF) != 0;
            case Execution.FlagOp.Add: return (_fres & m) < (_fdst & m);
            case Execution.FlagOp.Adc: return _faux != 0 ? (_fres & m) <= (_fdst & m) : (_fres & m) < (_fdst & m);
            case Execution.FlagOp.Sub: return (_fdst & m) < (_fsrc & m);
            case Execution.FlagOp.Sbb: return _faux != 0 ? (_fdst & m) <= (_fsrc & m) : (_fdst & m) < (_fsrc & m);
            case Execution.FlagOp.Logic: return false;
            case Execution.FlagOp.Inc:
            case Execution.FlagOp.Dec: return _faux != 0;
            default: return (_faux & CF) != 0;
        }
    }

    private bool GetOF()
    {
        ulong s = Execution.Sz.Sign(_fsize);
        switch (_fop)
        {
            case Execution.FlagOp.None: return (_rflags & OF) != 0;
            case Execution.FlagOp.Add:
            case Execution.FlagOp.Adc: return ((_fdst ^ _fres) & (_fsrc ^ _fres) & s) != 0;
            case Execution.FlagOp.Sub:
            case Execution.FlagOp.Sbb: return ((_fdst ^ _fsrc) & (_fdst ^ _fres) & s) != 0;
            case Execution.FlagOp.Logic: return false;
            case Execution.FlagOp.Inc: return (_fres & Execution.Sz.Mask(_fsize)) == s;
            case Execution.FlagOp.Dec: return (_fres & Execution.Sz.Mask(_fsize)) == s - 1;
            default: return (_faux & OF) != 0;
        }
    }

    private bool GetAF()
    {
        switch (_fop)
        {
            case Execution.FlagOp.None: return (_rflags & AF) != 0;
            case Execution.FlagOp.Add:
            case Execution.FlagOp.Adc:
            case Execution.FlagOp.Sub:
            case Execution.FlagOp.Sbb: return ((_fdst ^ _fsrc ^ _fres) & 0x10) != 0;
            case Execution.FlagOp.Logic: return false;
            case Execution.FlagOp.Inc: return (_fres & 0xF) == 0;
            case Execution.FlagOp.Dec: return (_fres & 0xF) == 0xF;
            default: return (_faux & AF) != 0;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool GetZF() => _fop == Execution.FlagOp.None ? (_rflags & ZF) != 0 : (_fres & Execution.Sz.Mask(_fsize)) == 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool GetSF() => _fop == Execution.FlagOp.None ? (_rflags & SF) != 0 : (_fres & Execution.Sz.Sign(_fsize)) != 0;

    private bool GetPF() => _fop == Execution.FlagOp.None ? (_rflags & PF) != 0 : Execution.Sz.Parity(_fres);

    /// <summary>The six status flags as RFLAGS bits, computed in one pass over the lazy state.</summary>
    private ulong StatusBits()
    {
        Execution.FlagOp op = _fop;
        if (op == Execution.FlagOp.None) return _rflags & StatusMask;
        ulong m = Execution.Sz.Mask(_fsize), s = Execution.Sz.Sign(_fsize);
        ulong res = _fres & m, dst = _fdst & m, src = _fsrc & m;
        ulong bits = (res == 0 ? ZF : 0) | ((res & s) != 0 ? SF : 0) | (Execution.Sz.Parity(res) ? PF : 0);
        switch (op)
        {
            case Execution.FlagOp.Add:
                return bits | (res < dst ? CF : 0) | (((dst ^ res) & (src ^ res) & s) != 0 ? OF : 0) | ((dst ^ src ^ res) & AF);
            case Execution.FlagOp.Adc:
                return bits | ((_faux != 0 ? res <= dst : res < dst) ? CF : 0) | (((dst ^ res) & (src ^ res) & s) != 0 ? OF : 0) | ((dst ^ src ^ res) & AF);
            case Execution.FlagOp.Sub:
                return bits | (dst < src ? CF : 0) | (((dst ^ src) & (dst ^ res) & s) != 0 ? OF : 0) | ((dst ^ src ^ res) & AF);
            case Execution.FlagOp.Sbb:
                return bits | ((_faux != 0 ? dst <= src : dst < src) ? CF : 0) | (((dst ^ src) & (dst ^ res) & s) != 0 ? OF : 0) | ((dst ^ src ^ res) & AF);
            case Execution.FlagOp.Logic:
                return bits;
            case Execution.FlagOp.Inc:
                return bits | (_faux != 0 ? CF : 0) | (res == s ? OF : 0) | ((res & 0xF) == 0 ? AF : 0);
            case Execution.FlagOp.Dec:
                return bits | (_faux != 0 ? CF : 0) | (res == s - 1 ? OF : 0) | ((res & 0xF) == 0xF ? AF : 0);
            default:
                return bits | (_faux & (CF | AF | OF));
        }
    }

    /// <summary>Computes the lazy flags into the RFLAGS image, so individual bits can be changed.</summary>
    private void MaterializeFlags()
    {
        if (_fop == Execution.FlagOp.None) return;
        _rflags = (_rflags & ~StatusMask) | StatusBits();
        _fop = Execution.FlagOp.None;
    }

    /// <summary>
    /// The flags of a rotate by a non-zero masked count (SDM Vol. 2B, RCL/RCR/ROL/ROR): CF and OF
    /// change, SF, ZF, AF and PF keep the values the previous producer left. Issue 13: this does not
    /// materialize them. Every lazy <see cref="Execution.FlagOp"/> derives ZF, SF and PF from the kept
    /// result and size alone, so the state becomes <see cref="Execution.FlagOp.Result"/> with the same
    /// result and size, the previous AF as an explicit bit, and the new CF/OF bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetRotateFlags(ulong cfOf)
    {
        if (_fop == Execution.FlagOp.None)
        {
            _rflags = (_rflags & ~(CF | OF)) | cfOf;
            return;
        }
        _faux = (GetAFLazy() ? AF : 0) | cfOf;
        _fop = Execution.FlagOp.Result;
    }

    /// <summary>AF of a lazy producer (<c>_fop != None</c>), with the commonest producers inline.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool GetAFLazy() => _fop switch
    {
        Execution.FlagOp.Logic => false,
        Execution.FlagOp.Result => (_faux & AF) != 0,
        Execution.FlagOp.Add or Execution.FlagOp.Sub => ((_fdst ^ _fsrc ^ _fres) & 0x10) != 0,
        _ => GetAF(),
    };

    /// <summary>
    /// CF as 0 or 1, with the commonest producers inline (INC/DEC keep CF, ADC/SBB/RCL/RCR read it):
    /// the same value as <see cref="GetCF"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong CarryBit()
    {
        switch (_fop)
        {
            case Execution.FlagOp.Inc:
            case Execution.FlagOp.Dec: return _faux != 0 ? 1UL : 0UL;
            case Execution.FlagOp.Logic: return 0;
            case Execution.FlagOp.None: return _rflags & CF;
            case Execution.FlagOp.Add:
            {
                ulong m = Execution.Sz.Mask(_fsize);
                return (_fres & m) < (_fdst & m) ? 1UL : 0UL;
            }
            case Execution.FlagOp.Sub:
            {
                ulong m = Execution.Sz.Mask(_fsize);
                return (_fdst & m) < (_fsrc & m) ? 1UL : 0UL;
            }
            default: return GetCF() ? 1UL : 0UL;
        }
    }

    /// <summary>Sets or clears status bits <paramref name="mask"/> to <paramref name="value"/> (other status bits kept).</summary>
    private void SetStatus(ulong mask, ulong value)
    {
        MaterializeFlags();
        _rflags = (_rflags & ~mask) | (value & mask);
    }

    /// <summary>Full RFLAGS value (SDM Vol. 1, 3.4.3).</summary>
    private ulong ReadRflags() => _fop == Execution.FlagOp.None ? _rflags : (_rflags & ~StatusMask) | StatusBits();

    /// <summary>Replaces RFLAGS (reserved bits forced: bit 1 = 1, bits 3, 5, 15, 22-63 = 0).</summary>
    private void WriteRflags(ulong value)
    {
        const ulong defined = 0x3F7FD5;
        _rflags = (value & defined) | 2;
        _fop = Execution.FlagOp.None;
        UpdateTlbKey(); // RFLAGS.AC takes part in the alignment-check key
    }

    /// <summary>Evaluates condition code <paramref name="cc"/> (SDM Vol. 1, Appendix B, Table B-1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Condition(int cc)
    {
        // Fast paths for the common producers of conditions: CMP/SUB and logic.
        if (_fop == Execution.FlagOp.Sub)
        {
            int size = _fsize;
            ulong m = Execution.Sz.Mask(size);
            ulong a = _fdst & m, b = _fsrc & m;
            switch (cc)
            {
                case 2: return a < b;
                case 3: return a >= b;
                case 4: return a == b;
                case 5: return a != b;
                case 6: return a <= b;
                case 7: return a > b;
                case 12: return (long)Execution.Sz.SignExtend(a, size) < (long)Execution.Sz.SignExtend(b, size);
                case 13: return (long)Execution.Sz.SignExtend(a, size) >= (long)Execution.Sz.SignExtend(b, size);
                case 14: return (long)Execution.Sz.SignExtend(a, size) <= (long)Execution.Sz.SignExtend(b, size);
                case 15: return (long)Execution.Sz.SignExtend(a, size) > (long)Execution.Sz.SignExtend(b, size);
            }
        }
        bool r = (cc >> 1) switch
        {
            0 => GetOF(),
            1 => GetCF(),
            2 => GetZF(),
            3 => GetCF() || GetZF(),
            4 => GetSF(),
            5 => GetPF(),
            6 => GetSF() != GetOF(),
            _ => GetZF() || GetSF() != GetOF(),
        };
        return r ^ ((cc & 1) != 0);
    }
}
