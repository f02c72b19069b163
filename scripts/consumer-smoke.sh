#!/usr/bin/env bash
# Consumer-path proof for the Vtx packages.
#
# 1. Packs Vtx.Decoder, Vtx.Core and Vtx.FsCheck from this working tree, with a version unique to this run,
#    into a temporary local package folder. Build output goes to a temporary artifacts folder,
#    so the working tree's bin/ and obj/ are left alone.
# 2. Creates a throw-away console project in another temporary folder whose nuget.config lists
#    that local folder (for Vtx.*) and nuget.org (for everything else, e.g. Iced), restores it
#    into an empty, private global-packages folder, builds it and runs it.
# 3. Checks that the program printed the expected results: a bare-metal run (add rax, rbx; hlt =>
#    5, Halted), a tiny hypervisor on the public VMX test kit (Vtx.Kit: the guest's CPUID and
#    VMCALL exit to it) and an FsCheck property from Vtx.FsCheck (every generated VMCS with one
#    broken entry check fails VM entry as the SDM says).
#
# A stale package can't fake success: the version is new for every run, the package cache is
# empty at the start, and package source mapping lets Vtx.* come only from the local folder.
#
# Usage: scripts/consumer-smoke.sh            (exit 0 on success, non-zero with a reason otherwise)
# Env:   VTX_SMOKE_KEEP=1  keep the temporary folder for inspection
#        VTX_SMOKE_PACKAGES_OUT=DIR  also copy the packed .nupkg/.snupkg files to DIR (the test
#                          reads the symbol packages' pdbs from there)
#        NUGET_ORG_SOURCE  override the public source URL (default: nuget.org v3)
set -euo pipefail

fail() { echo "consumer-smoke: FAIL: $*" >&2; exit 1; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ -f "$repo_root/Vtx.slnx" ]] || fail "cannot find Vtx.slnx at $repo_root"
command -v dotnet >/dev/null 2>&1 || fail "'dotnet' is not on PATH"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export MSBUILDDISABLENODEREUSE=1 DOTNET_CLI_USE_MSBUILD_SERVER=0

nuget_org="${NUGET_ORG_SOURCE:-https://api.nuget.org/v3/index.json}"
work="$(mktemp -d "${TMPDIR:-/tmp}/vtx-consumer-smoke.XXXXXX")"
cleanup() {
  if [[ "${VTX_SMOKE_KEEP:-0}" == 1 ]]; then echo "consumer-smoke: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Unique per run: the repository's version (package validation wants an assembly version at least
# the baseline's) as a prerelease: seconds since the epoch, plus the PID and a random number.
base_version="$(sed -n 's:.*<Version>\([0-9.]*\)</Version>.*:\1:p' "$repo_root/Directory.Build.props" | head -n 1)"
[[ -n "$base_version" ]] || fail "cannot read <Version> from Directory.Build.props"
version="$base_version-smoke.$(date +%s).$$.$RANDOM"
packages="$work/packages"
consumer="$work/consumer"
mkdir -p "$packages" "$consumer"

# Runs one step with its output in a log file (not our stdout: build servers that outlive the
# step must not hold the caller's pipe open). Prints the log's tail, or all of it on failure.
step() {
  local name="$1"; shift
  local log="$work/$name.log" start=$SECONDS rc=0
  echo "consumer-smoke: $name: $*"
  "$@" >"$log" 2>&1 </dev/null || rc=$?
  if (( rc != 0 )); then
    echo "---- $name output ----"; cat "$log"; echo "---- end of $name output ----"
    fail "$name exited with $rc"
  fi
  echo "consumer-smoke: $name ok ($((SECONDS - start)) s)"
}

# ---- 1. pack ---------------------------------------------------------------------------------
# The library projects one at a time (packing Vtx.slnx would also restore the test and
# bench projects, for nothing: they are not packable).
ids=(Vtx.Decoder Vtx.Core Vtx.FsCheck)
for proj in "${ids[@]}"; do
  step "pack-$proj" dotnet pack "$repo_root/$proj/$proj.csproj" -c Release -o "$packages" \
    --artifacts-path "$work/artifacts" -nodeReuse:false -p:Version="$version"
done

for id in "${ids[@]}"; do
  for ext in nupkg snupkg; do
    [[ -f "$packages/$id.$version.$ext" ]] || fail "pack did not produce $id.$version.$ext (got: $(ls "$packages"))"
  done
done
unexpected="$(find "$packages" -name '*.nupkg' ! -name 'Vtx.Core.*' ! -name 'Vtx.Decoder.*' ! -name 'Vtx.FsCheck.*' -printf '%f ')"
[[ -z "$unexpected" ]] || fail "unexpected packages were produced: $unexpected"
if command -v unzip >/dev/null 2>&1; then
  for id in "${ids[@]}"; do
    listing="$(unzip -Z1 "$packages/$id.$version.nupkg")"
    for f in README.md "lib/net10.0/$id.dll" "lib/net10.0/$id.xml"; do
      grep -qxF "$f" <<<"$listing" || fail "$id.$version.nupkg lacks $f; it has: $listing"
    done
    grep -qxF "lib/net10.0/$id.pdb" <<<"$(unzip -Z1 "$packages/$id.$version.snupkg")" \
      || fail "$id.$version.snupkg lacks lib/net10.0/$id.pdb"
  done
fi

if [[ -n "${VTX_SMOKE_PACKAGES_OUT:-}" ]]; then
  mkdir -p "$VTX_SMOKE_PACKAGES_OUT"
  cp "$packages"/*.nupkg "$packages"/*.snupkg "$VTX_SMOKE_PACKAGES_OUT"/
  echo "consumer-smoke: packages copied to $VTX_SMOKE_PACKAGES_OUT"
fi

# ---- 2. consumer project -----------------------------------------------------------------------
# Empty Directory.* files stop MSBuild from picking up any from folders above the temp folder.
echo '<Project />' >"$consumer/Directory.Build.props"
echo '<Project />' >"$consumer/Directory.Build.targets"
echo '<Project />' >"$consumer/Directory.Packages.props"

cat >"$consumer/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="vtx-local" value="$packages" />
    <add key="nuget.org" value="$nuget_org" protocolVersion="3" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="vtx-local">
      <package pattern="Vtx.*" />
    </packageSource>
    <packageSource key="nuget.org">
      <package pattern="*" />
    </packageSource>
  </packageSourceMapping>
</configuration>
EOF

cat >"$consumer/Consumer.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
    <NuGetAudit>false</NuGetAudit>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Vtx.Core" Version="$version" />
    <PackageReference Include="Vtx.FsCheck" Version="$version" />
  </ItemGroup>
</Project>
EOF

cat >"$consumer/Program.cs" <<'EOF'
using FsCheck;
using FsCheck.Fluent;
using Vtx;
using Vtx.Kit;
using Vtx.Kit.Generators;
using static Iced.Intel.AssemblerRegisters;

// Bare metal: add rax, rbx; hlt.
var m = new Machine(new MachineOptions { MemoryMiB = 1 });
m.WriteMemory(0x1000, new byte[] { 0x48, 0x01, 0xD8, 0xF4 }); // add rax, rbx; hlt
m.Cpu.Rip = 0x1000;
m.Cpu[Gpr.Rax] = 2;
m.Cpu[Gpr.Rbx] = 3;
RunResult r = m.Run(RunLimits.Instructions(100));
Console.WriteLine($"Rax={m.Cpu[Gpr.Rax]}");
Console.WriteLine($"Reason={r.Reason}");

// A tiny hypervisor on the kit: its guest runs CPUID (exits unconditionally, SDM Vol. 3C, 26.1.2),
// the hypervisor skips it and resumes, and the guest ends with VMCALL.
var bed = new VmxTestBed();
var labels = bed.LoadGuest(g => { g.A.mov(eax, 0); g.A.cpuid(); g.Done(); });
VmxExit exit = bed.Launch();
Console.WriteLine($"KitExit={exit.BasicReason}");
bed.SkipInstruction();
exit = bed.Resume();
Console.WriteLine($"KitExit={exit.BasicReason} at vmcall={exit.Guest.Rip == labels["vmcall"]}");

// An FsCheck property from Vtx.FsCheck: a VMCS with exactly one entry check broken fails VM entry
// the way the SDM says for that check.
Check.One(Config.QuickThrowOnFailure.WithMaxTest(40),
    Prop.ForAll(VmxArbitraries.Broken(), broken => broken.FailedAsExpected(new VmxTestBed().Launch(broken.Patch))));
Console.WriteLine("Property=passed");
EOF

export NUGET_PACKAGES="$work/nuget-packages"   # empty: nothing cached can stand in for this run's packages
step restore dotnet restore "$consumer/Consumer.csproj" --configfile "$consumer/nuget.config" \
  --packages "$NUGET_PACKAGES" -nodeReuse:false
[[ -f "$NUGET_PACKAGES/vtx.core/$version/vtx.core.$version.nupkg" ]] \
  || fail "Vtx.Core $version was not restored into the private package folder"
[[ -f "$NUGET_PACKAGES/vtx.decoder/$version/vtx.decoder.$version.nupkg" ]] \
  || fail "Vtx.Decoder $version was not restored (transitive dependency of Vtx.Core)"
[[ -f "$NUGET_PACKAGES/vtx.fscheck/$version/vtx.fscheck.$version.nupkg" ]] \
  || fail "Vtx.FsCheck $version was not restored into the private package folder"
ls "$NUGET_PACKAGES/iced" >/dev/null 2>&1 || fail "Iced was not restored from $nuget_org"
ls "$NUGET_PACKAGES/fscheck" >/dev/null 2>&1 || fail "FsCheck was not restored from $nuget_org"

step build dotnet build "$consumer/Consumer.csproj" -c Release --no-restore -nodeReuse:false

# ---- 3. run and check --------------------------------------------------------------------------
dll="$consumer/bin/Release/net10.0/Consumer.dll"
[[ -f "$dll" ]] || fail "build did not produce $dll"
echo "consumer-smoke: run: dotnet $dll"
rc=0
out="$(dotnet "$dll" 2>&1 </dev/null)" || rc=$?
echo "$out"
(( rc == 0 )) || fail "the consumer program exited with $rc"
grep -qxF 'Rax=5' <<<"$out" || fail "expected 'Rax=5' in the program output"
grep -qxF 'Reason=Halted' <<<"$out" || fail "expected 'Reason=Halted' in the program output"
grep -qxF 'KitExit=Cpuid' <<<"$out" || fail "expected 'KitExit=Cpuid' (the kit's guest CPUID exit) in the program output"
grep -qxF 'KitExit=Vmcall at vmcall=True' <<<"$out" || fail "expected 'KitExit=Vmcall at vmcall=True' in the program output"
grep -qF 'Ok, passed 40 tests' <<<"$out" || fail "expected FsCheck's 'Ok, passed 40 tests' in the program output"
grep -qxF 'Property=passed' <<<"$out" || fail "expected 'Property=passed' in the program output"

echo "consumer-smoke: PASS (Vtx.Core and Vtx.FsCheck $version from a local package folder; Rax=5, Halted; kit exits Cpuid, Vmcall; FsCheck property passed)"
