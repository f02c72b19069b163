#!/usr/bin/env bash
# Regenerates Vtx.Core/Vmx/VmcsField.g.cs from Vtx.Core/Vmx/VmcsFields.txt.
# The generator is Vtx.Tests/Vmx/VmcsFieldsGenerator.cs; its test VmcsFieldsGeneratorTests rewrites the
# file when VTX_REGENERATE=1 and otherwise fails while the checked-in file is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
VTX_REGENERATE=1 dotnet test Vtx.Tests/Vtx.Tests.csproj --filter "FullyQualifiedName~VmcsFieldsGeneratorTests.GeneratedFileIsUpToDate" "$@"
