# SPDX-License-Identifier: MIT
# tests/test_tool*.c run the built httpresp tool and demo server; they find
# them through these variables (without them, their tests are skipped).
if(TARGET httpresp_tool AND TARGET httpresp_demo_server)
  foreach(suite test_tool test_tool_curl test_tool_trace test_tool_flags
                test_redis)
    if(TARGET ${suite})
      set_property(TEST ${suite} APPEND PROPERTY ENVIRONMENT
        "HTTPRESP_TOOL=$<TARGET_FILE:httpresp_tool>;HTTPRESP_DEMO_SERVER=$<TARGET_FILE:httpresp_demo_server>")
      add_dependencies(${suite} httpresp_tool httpresp_demo_server)
    endif()
  endforeach()
endif()
