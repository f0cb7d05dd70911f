# SPDX-License-Identifier: MIT
# Reference pages into share/man (man 3 httpresp_perform, man 1 httpresp),
# and the example programs with the user-facing documents into
# share/doc/httpresp.  Included by the top-level CMakeLists.txt.
file(GLOB HTTPRESP_MAN3 CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/man/man3/*.3)
file(GLOB HTTPRESP_MAN1 CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/man/man1/*.1)
install(FILES ${HTTPRESP_MAN3} DESTINATION ${CMAKE_INSTALL_MANDIR}/man3)
install(FILES ${HTTPRESP_MAN1} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/LICENSE
  ${PROJECT_SOURCE_DIR}/CHANGELOG.md ${PROJECT_SOURCE_DIR}/SECURITY.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/examples/example_simple.c
  ${PROJECT_SOURCE_DIR}/examples/example_fetch.c
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
