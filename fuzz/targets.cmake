# The fuzz targets, shared by fuzz/CMakeLists.txt (libFuzzer binaries) and
# tests/extra.cmake (corpus replay under ctest): fuzz/fuzz_<name>.c, seeds
# in fuzz/corpus/<name>/.
set(HTTPRESP_FUZZ_TARGETS httpdate cachecontrol url headers policy)
# The entry codec is another module's work in progress: its target joins
# once lib/cache_entry.c exists (the lib/*.c glob re-runs CMake then).
if(EXISTS ${PROJECT_SOURCE_DIR}/lib/cache_entry.c)
  list(APPEND HTTPRESP_FUZZ_TARGETS cache_entry)
endif()
