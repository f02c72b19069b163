namespace Vtx.Vmx;

/// <summary>
/// Basic exit reasons, bits 15:0 of the exit-reason field 4402h (SDM Vol. 3C, Appendix C "VMX Basic Exit Reasons";
/// 24.9.1). Numbers not listed are unused.
/// </summary>
public enum VmxExitReason : ushort
{
    /// <summary>0: exception (via the exception bitmap) or NMI (with NMI exiting) (SDM Vol. 3C, Appendix C).</summary>
    ExceptionOrNmi = 0,
    /// <summary>1: external interrupt (with external-interrupt exiting) (SDM Vol. 3C, Appendix C).</summary>
    ExternalInterrupt = 1,
    /// <summary>2: triple fault (SDM Vol. 3C, Appendix C).</summary>
    TripleFault = 2,
    /// <summary>3: INIT signal (SDM Vol. 3C, Appendix C).</summary>
    InitSignal = 3,
    /// <summary>4: start-up IPI (SIPI) in the wait-for-SIPI state (SDM Vol. 3C, Appendix C).</summary>
    StartupIpi = 4,
    /// <summary>5: I/O system-management interrupt (dual-monitor treatment) (SDM Vol. 3C, Appendix C).</summary>
    IoSmi = 5,
    /// <summary>6: other SMI (dual-monitor treatment) (SDM Vol. 3C, Appendix C).</summary>
    OtherSmi = 6,
    /// <summary>7: interrupt window (interrupt-window exiting) (SDM Vol. 3C, Appendix C).</summary>
    InterruptWindow = 7,
    /// <summary>8: NMI window (NMI-window exiting) (SDM Vol. 3C, Appendix C).</summary>
    NmiWindow = 8,
    /// <summary>9: task switch (SDM Vol. 3C, Appendix C).</summary>
    TaskSwitch = 9,
    /// <summary>10: CPUID (SDM Vol. 3C, Appendix C).</summary>
    Cpuid = 10,
    /// <summary>11: GETSEC (SDM Vol. 3C, Appendix C).</summary>
    Getsec = 11,
    /// <summary>12: HLT (SDM Vol. 3C, Appendix C).</summary>
    Hlt = 12,
    /// <summary>13: INVD (SDM Vol. 3C, Appendix C).</summary>
    Invd = 13,
    /// <summary>14: INVLPG (and INVPCID with INVLPG exiting) (SDM Vol. 3C, Appendix C).</summary>
    Invlpg = 14,
    /// <summary>15: RDPMC (SDM Vol. 3C, Appendix C).</summary>
    Rdpmc = 15,
    /// <summary>16: RDTSC (SDM Vol. 3C, Appendix C).</summary>
    Rdtsc = 16,
    /// <summary>17: RSM in SMM (dual-monitor treatment) (SDM Vol. 3C, Appendix C).</summary>
    Rsm = 17,
    /// <summary>18: VMCALL (SDM Vol. 3C, Appendix C).</summary>
    Vmcall = 18,
    /// <summary>19: VMCLEAR (SDM Vol. 3C, Appendix C).</summary>
    Vmclear = 19,
    /// <summary>20: VMLAUNCH (SDM Vol. 3C, Appendix C).</summary>
    Vmlaunch = 20,
    /// <summary>21: VMPTRLD (SDM Vol. 3C, Appendix C).</summary>
    Vmptrld = 21,
    /// <summary>22: VMPTRST (SDM Vol. 3C, Appendix C).</summary>
    Vmptrst = 22,
    /// <summary>23: VMREAD (SDM Vol. 3C, Appendix C).</summary>
    Vmread = 23,
    /// <summary>24: VMRESUME (SDM Vol. 3C, Appendix C).</summary>
    Vmresume = 24,
    /// <summary>25: VMWRITE (SDM Vol. 3C, Appendix C).</summary>
    Vmwrite = 25,
    /// <summary>26: VMXOFF (SDM Vol. 3C, Appendix C).</summary>
    Vmxoff = 26,
    /// <summary>27: VMXON (SDM Vol. 3C, Appendix C).</summary>
    Vmxon = 27,
    /// <summary>28: control-register access (MOV CR, CLTS, LMSW) (SDM Vol. 3C, Appendix C).</summary>
    ControlRegisterAccess = 28,
    /// <summary>29: MOV DR (SDM Vol. 3C, Appendix C).</summary>
    MovDr = 29,
    /// <summary>30: I/O instruction (SDM Vol. 3C, Appendix C).</summary>
    IoInstruction = 30,
    /// <summary>31: RDMSR (SDM Vol. 3C, Appendix C).</summary>
    Rdmsr = 31,
    /// <summary>32: WRMSR (SDM Vol. 3C, Appendix C).</summary>
    Wrmsr = 32,
    /// <summary>33: VM-entry failure due to invalid guest state (exit reason bit 31 set) (SDM Vol. 3C, Appendix C).</summary>
    EntryFailureGuestState = 33,
    /// <summary>34: VM-entry failure due to MSR loading (exit reason bit 31 set) (SDM Vol. 3C, Appendix C).</summary>
    EntryFailureMsrLoading = 34,
    /// <summary>36: MWAIT (SDM Vol. 3C, Appendix C).</summary>
    Mwait = 36,
    /// <summary>37: monitor trap flag (SDM Vol. 3C, Appendix C).</summary>
    MonitorTrapFlag = 37,
    /// <summary>39: MONITOR (SDM Vol. 3C, Appendix C).</summary>
    Monitor = 39,
    /// <summary>40: PAUSE (PAUSE exiting or PAUSE-loop exiting) (SDM Vol. 3C, Appendix C).</summary>
    Pause = 40,
    /// <summary>41: VM-entry failure due to a machine-check event (exit reason bit 31 set) (SDM Vol. 3C, Appendix C).</summary>
    EntryFailureMachineCheck = 41,
    /// <summary>43: TPR below threshold (trap-like) (SDM Vol. 3C, Appendix C).</summary>
    TprBelowThreshold = 43,
    /// <summary>44: APIC access (SDM Vol. 3C, Appendix C).</summary>
    ApicAccess = 44,
    /// <summary>45: virtualized EOI (trap-like) (SDM Vol. 3C, Appendix C).</summary>
    VirtualizedEoi = 45,
    /// <summary>46: access to GDTR or IDTR (LGDT, LIDT, SGDT, SIDT) (SDM Vol. 3C, Appendix C).</summary>
    GdtrIdtrAccess = 46,
    /// <summary>47: access to LDTR or TR (LLDT, LTR, SLDT, STR) (SDM Vol. 3C, Appendix C).</summary>
    LdtrTrAccess = 47,
    /// <summary>48: EPT violation (SDM Vol. 3C, Appendix C).</summary>
    EptViolation = 48,
    /// <summary>49: EPT misconfiguration (SDM Vol. 3C, Appendix C).</summary>
    EptMisconfiguration = 49,
    /// <summary>50: INVEPT (SDM Vol. 3C, Appendix C).</summary>
    Invept = 50,
    /// <summary>51: RDTSCP (SDM Vol. 3C, Appendix C).</summary>
    Rdtscp = 51,
    /// <summary>52: VMX-preemption timer expired (SDM Vol. 3C, Appendix C).</summary>
    PreemptionTimerExpired = 52,
    /// <summary>53: INVVPID (SDM Vol. 3C, Appendix C).</summary>
    Invvpid = 53,
    /// <summary>54: WBINVD or WBNOINVD (SDM Vol. 3C, Appendix C).</summary>
    Wbinvd = 54,
    /// <summary>55: XSETBV (SDM Vol. 3C, Appendix C).</summary>
    Xsetbv = 55,
    /// <summary>56: APIC write (trap-like) (SDM Vol. 3C, Appendix C).</summary>
    ApicWrite = 56,
    /// <summary>57: RDRAND (SDM Vol. 3C, Appendix C).</summary>
    Rdrand = 57,
    /// <summary>58: INVPCID (SDM Vol. 3C, Appendix C).</summary>
    Invpcid = 58,
    /// <summary>59: VMFUNC (SDM Vol. 3C, Appendix C).</summary>
    Vmfunc = 59,
    /// <summary>60: ENCLS (SDM Vol. 3C, Appendix C).</summary>
    Encls = 60,
    /// <summary>61: RDSEED (SDM Vol. 3C, Appendix C).</summary>
    Rdseed = 61,
    /// <summary>62: page-modification log full (SDM Vol. 3C, Appendix C).</summary>
    PmlFull = 62,
    /// <summary>63: XSAVES (SDM Vol. 3C, Appendix C).</summary>
    Xsaves = 63,
    /// <summary>64: XRSTORS (SDM Vol. 3C, Appendix C).</summary>
    Xrstors = 64,
    /// <summary>65: PCONFIG (SDM Vol. 3C, Appendix C).</summary>
    Pconfig = 65,
    /// <summary>66: SPP-related event (SDM Vol. 3C, Appendix C).</summary>
    SppEvent = 66,
    /// <summary>67: UMWAIT (SDM Vol. 3C, Appendix C).</summary>
    Umwait = 67,
    /// <summary>68: TPAUSE (SDM Vol. 3C, Appendix C).</summary>
    Tpause = 68,
    /// <summary>69: LOADIWKEY (SDM Vol. 3C, Appendix C).</summary>
    Loadiwkey = 69,
    /// <summary>70: ENCLV (SDM Vol. 3C, Appendix C).</summary>
    Enclv = 70,
    /// <summary>72: ENQCMD PASID-translation failure (SDM Vol. 3C, Appendix C).</summary>
    EnqcmdPasidTranslationFailure = 72,
    /// <summary>73: ENQCMDS PASID-translation failure (SDM Vol. 3C, Appendix C).</summary>
    EnqcmdsPasidTranslationFailure = 73,
    /// <summary>74: bus lock (trap-like) (SDM Vol. 3C, Appendix C).</summary>
    BusLock = 74,
    /// <summary>75: instruction timeout (notify window) (SDM Vol. 3C, Appendix C).</summary>
    InstructionTimeout = 75,
    /// <summary>76: SEAMCALL (SDM Vol. 3C, Appendix C).</summary>
    Seamcall = 76,
    /// <summary>77: TDCALL (SDM Vol. 3C, Appendix C).</summary>
    Tdcall = 77,
    /// <summary>78: RDMSRLIST (SDM Vol. 3C, Appendix C).</summary>
    Rdmsrlist = 78,
    /// <summary>79: WRMSRLIST (SDM Vol. 3C, Appendix C).</summary>
    Wrmsrlist = 79,
    /// <summary>80: URDMSR (SDM Vol. 3C, Appendix C).</summary>
    Urdmsr = 80,
    /// <summary>81: UWRMSR (SDM Vol. 3C, Appendix C).</summary>
    Uwrmsr = 81,
    /// <summary>84: RDMSR with an immediate MSR index (recent; name as in Bochs and Linux, not yet checked against the SDM).</summary>
    RdmsrImmediate = 84,
    /// <summary>85: WRMSRNS with an immediate MSR index (recent; name as in Bochs and Linux, not yet checked against the SDM).</summary>
    WrmsrnsImmediate = 85,
}

/// <summary>Bits of the 32-bit exit-reason field 4402h above the basic exit reason (SDM Vol. 3C, 24.9.1).</summary>
public static class ExitReasonBits
{
    /// <summary>Bits 15:0: the basic exit reason (<see cref="VmxExitReason"/>) (SDM Vol. 3C, 24.9.1).</summary>
    public const uint BasicReasonMask = 0xFFFF;
    /// <summary>Bit 25: shadow stack prematurely busy (SDM Vol. 3C, 24.9.1).</summary>
    public const uint ShadowStackPrematurelyBusy = 1u << 25;
    /// <summary>Bit 26: a bus lock was asserted while executing in VMX non-root operation (SDM Vol. 3C, 24.9.1).</summary>
    public const uint BusLockDetected = 1u << 26;
    /// <summary>Bit 27: the VM exit was incident to enclave mode (SDM Vol. 3C, 24.9.1).</summary>
    public const uint FromEnclaveMode = 1u << 27;
    /// <summary>Bit 28: pending MTF VM exit (SMM VM exits only) (SDM Vol. 3C, 24.9.1).</summary>
    public const uint PendingMtf = 1u << 28;
    /// <summary>Bit 29: VM exit from VMX root operation (SMM VM exits only) (SDM Vol. 3C, 24.9.1).</summary>
    public const uint FromVmxRoot = 1u << 29;
    /// <summary>Bit 31: VM-entry failure (basic reasons 33, 34 and 41 only) (SDM Vol. 3C, 24.9.1).</summary>
    public const uint EntryFailure = 1u << 31;
}

/// <summary>
/// VM-instruction error numbers, stored in field 4400h by VMfailValid (SDM Vol. 3C, 30.4 "VM Instruction Error
/// Numbers", Table 30-1). Numbers 14, 21 and 27 are unused.
/// </summary>
public enum VmInstructionError : uint
{
    /// <summary>0: no error (the field's value after a successful instruction is undefined; 0 is not reported by VMfailValid) (SDM Vol. 3C, 30.4).</summary>
    None = 0,
    /// <summary>1: VMCALL executed in VMX root operation (SDM Vol. 3C, 30.4).</summary>
    VmcallInVmxRoot = 1,
    /// <summary>2: VMCLEAR with invalid physical address (SDM Vol. 3C, 30.4).</summary>
    VmclearInvalidAddress = 2,
    /// <summary>3: VMCLEAR with VMXON pointer (SDM Vol. 3C, 30.4).</summary>
    VmclearVmxonPointer = 3,
    /// <summary>4: VMLAUNCH with non-clear VMCS (SDM Vol. 3C, 30.4).</summary>
    VmlaunchNonClearVmcs = 4,
    /// <summary>5: VMRESUME with non-launched VMCS (SDM Vol. 3C, 30.4).</summary>
    VmresumeNonLaunchedVmcs = 5,
    /// <summary>6: VMRESUME after VMXOFF (VMXOFF and VMXON between VMLAUNCH and VMRESUME) (SDM Vol. 3C, 30.4).</summary>
    VmresumeAfterVmxoff = 6,
    /// <summary>7: VM entry with invalid control field(s) (SDM Vol. 3C, 30.4).</summary>
    EntryInvalidControlFields = 7,
    /// <summary>8: VM entry with invalid host-state field(s) (SDM Vol. 3C, 30.4).</summary>
    EntryInvalidHostStateFields = 8,
    /// <summary>9: VMPTRLD with invalid physical address (SDM Vol. 3C, 30.4).</summary>
    VmptrldInvalidAddress = 9,
    /// <summary>10: VMPTRLD with VMXON pointer (SDM Vol. 3C, 30.4).</summary>
    VmptrldVmxonPointer = 10,
    /// <summary>11: VMPTRLD with incorrect VMCS revision identifier (SDM Vol. 3C, 30.4).</summary>
    VmptrldIncorrectRevisionId = 11,
    /// <summary>12: VMREAD/VMWRITE from/to unsupported VMCS component (SDM Vol. 3C, 30.4).</summary>
    UnsupportedVmcsComponent = 12,
    /// <summary>13: VMWRITE to read-only VMCS component (SDM Vol. 3C, 30.4).</summary>
    VmwriteReadOnlyComponent = 13,
    /// <summary>15: VMXON executed in VMX root operation (SDM Vol. 3C, 30.4).</summary>
    VmxonInVmxRoot = 15,
    /// <summary>16: VM entry with invalid executive-VMCS pointer (SDM Vol. 3C, 30.4).</summary>
    EntryInvalidExecutiveVmcsPointer = 16,
    /// <summary>17: VM entry with non-launched executive VMCS (SDM Vol. 3C, 30.4).</summary>
    EntryNonLaunchedExecutiveVmcs = 17,
    /// <summary>18: VM entry with executive-VMCS pointer not VMXON pointer (when attempting to deactivate the dual-monitor treatment) (SDM Vol. 3C, 30.4).</summary>
    EntryExecutiveVmcsPointerNotVmxonPointer = 18,
    /// <summary>19: VMCALL with non-clear VMCS (when attempting to activate the dual-monitor treatment) (SDM Vol. 3C, 30.4).</summary>
    VmcallNonClearVmcs = 19,
    /// <summary>20: VMCALL with invalid VM-exit control fields (SDM Vol. 3C, 30.4).</summary>
    VmcallInvalidExitControlFields = 20,
    /// <summary>22: VMCALL with incorrect MSEG revision identifier (SDM Vol. 3C, 30.4).</summary>
    VmcallIncorrectMsegRevisionId = 22,
    /// <summary>23: VMXOFF under dual-monitor treatment of SMIs and SMM (SDM Vol. 3C, 30.4).</summary>
    VmxoffUnderDualMonitorTreatment = 23,
    /// <summary>24: VMCALL with invalid SMM-monitor features (SDM Vol. 3C, 30.4).</summary>
    VmcallInvalidSmmMonitorFeatures = 24,
    /// <summary>25: VM entry with invalid VM-execution control fields in executive VMCS (when attempting to return from SMM) (SDM Vol. 3C, 30.4).</summary>
    EntryInvalidExecutiveControlFields = 25,
    /// <summary>26: VM entry with events blocked by MOV SS (SDM Vol. 3C, 30.4).</summary>
    EntryEventsBlockedByMovSs = 26,
    /// <summary>28: invalid operand to INVEPT/INVVPID (SDM Vol. 3C, 30.4).</summary>
    InvalidInveptInvvpidOperand = 28,
}
