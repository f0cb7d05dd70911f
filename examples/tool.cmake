# SPDX-License-Identifier: MIT
# The httpresp command-line tool and the demo server it is shown against.
# Both use the public API only and link the shared library, like any user.

add_executable(httpresp_tool
  ${CMAKE_CURRENT_SOURCE_DIR}/httpresp.c
  ${CMAKE_CURRENT_SOURCE_DIR}/httpresp_args.c
  ${CMAKE_CURRENT_SOURCE_DIR}/httpresp_output.c
  ${CMAKE_CURRENT_SOURCE_DIR}/httpresp_trace.c
  ${CMAKE_CURRENT_SOURCE_DIR}/httpresp_json.c)
target_link_libraries(httpresp_tool PRIVATE httpresp)
# The library target is already called httpresp; the program is too.
set_target_properties(httpresp_tool PROPERTIES OUTPUT_NAME httpresp)

# Plain POSIX sockets: it needs nothing from the library.
add_executable(httpresp_demo_server ${CMAKE_CURRENT_SOURCE_DIR}/demo_server.c)
set_target_properties(httpresp_demo_server PROPERTIES
  OUTPUT_NAME httpresp-demo-server)

# Installed binaries find the library beside them (prefix/lib) wherever the
# prefix is, without LD_LIBRARY_PATH.
set_target_properties(httpresp_tool httpresp_demo_server PROPERTIES
  INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
# Only the tool is installed: the demo server exists for scripts/demo.sh and
# the tool's tests, and stays in the build tree.
install(TARGETS httpresp_tool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
