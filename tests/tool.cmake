# tests/test_tool.c runs the built httpresp tool and demo server; it finds
# them through these variables (without them, its tests are skipped).
if(TARGET httpresp_tool AND TARGET httpresp_demo_server)
  set_property(TEST test_tool APPEND PROPERTY ENVIRONMENT
    "HTTPRESP_TOOL=$<TARGET_FILE:httpresp_tool>;HTTPRESP_DEMO_SERVER=$<TARGET_FILE:httpresp_demo_server>")
  add_dependencies(test_tool httpresp_tool httpresp_demo_server)
endif()
