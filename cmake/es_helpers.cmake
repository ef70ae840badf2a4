# Helpers shared by the subsystem CMakeLists.

# es_add_test(NAME name LABEL label SOURCES a.cc b.cc LIBS lib...)
# Builds a GoogleTest executable into build/bin and registers its tests with CTest under a label
# (one label per subsystem, so `ctest -L core` runs one subsystem).
function(es_add_test)
    cmake_parse_arguments(T "" "NAME;LABEL;TIMEOUT" "SOURCES;LIBS" ${ARGN})
    add_executable(${T_NAME} ${T_SOURCES})
    target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
    if(NOT T_TIMEOUT)
        set(T_TIMEOUT 300)
    endif()
    gtest_discover_tests(${T_NAME}
        PROPERTIES LABELS ${T_LABEL} TIMEOUT ${T_TIMEOUT}
        DISCOVERY_TIMEOUT 60)
endfunction()
