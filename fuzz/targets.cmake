# SPDX-License-Identifier: MIT
# The fuzz targets, shared by fuzz/CMakeLists.txt (libFuzzer binaries) and
# tests/extra.cmake (corpus replay under ctest): fuzz/fuzz_<name>.c, seeds
# in fuzz/corpus/<name>/.
set(HTTPRESP_FUZZ_TARGETS httpdate cachecontrol url headers policy
    cache_entry)
