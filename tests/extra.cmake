# SPDX-License-Identifier: MIT
# Fuzz corpora replayed as ordinary tests (the libgit2 habit): each fuzz
# target is linked with fuzz/replay_main.c instead of libFuzzer, so this
# runs with any compiler, and under ASan/UBSan when HTTPRESP_SANITIZE is on.
# Included by tests/CMakeLists.txt.
include(${PROJECT_SOURCE_DIR}/fuzz/targets.cmake)

foreach(name ${HTTPRESP_FUZZ_TARGETS})
  add_executable(fuzz_replay_${name} ${PROJECT_SOURCE_DIR}/fuzz/fuzz_${name}.c
                 ${PROJECT_SOURCE_DIR}/fuzz/replay_main.c)
  target_include_directories(fuzz_replay_${name} PRIVATE
                             ${PROJECT_SOURCE_DIR}/fuzz)
  target_link_libraries(fuzz_replay_${name} PRIVATE httpresp_internal)
  add_test(NAME fuzz_replay_${name}
           COMMAND fuzz_replay_${name} ${PROJECT_SOURCE_DIR}/fuzz/corpus/${name})
  set_tests_properties(fuzz_replay_${name} PROPERTIES TIMEOUT 300
                       LABELS fuzz)
endforeach()
