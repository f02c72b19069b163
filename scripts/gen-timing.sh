#!/usr/bin/env bash
# Regenerates the timing profiles Vtx.Core/Timing/Profiles/*.txt from Vtx.Core/Timing/Data/ (headers, facts.txt)
# and llvm-mca-14 (Debian package llvm-14). The generator is Vtx.Tests/Timing/TimingGenerator.cs; its test
# TimingDataTests.GeneratedFileIsUpToDate rewrites the files when VTX_REGENERATE=1 and otherwise fails while a
# committed file is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v llvm-mca-14 >/dev/null || { echo "gen-timing: llvm-mca-14 is missing (apt-get install llvm-14)" >&2; exit 1; }
VTX_REGENERATE=1 dotnet test Vtx.Tests/Vtx.Tests.csproj -c Release --filter "FullyQualifiedName~TimingDataTests.GeneratedFileIsUpToDate" "$@"
