add_library(mx_warnings INTERFACE)
target_compile_options(mx_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla -Wundef
  -Wwrite-strings)
if(MX_WERROR)
  target_compile_options(mx_warnings INTERFACE -Werror)
endif()
if(CMAKE_BUILD_TYPE MATCHES "Rel")
  target_compile_options(mx_warnings INTERFACE -fstack-protector-strong)
  target_compile_definitions(mx_warnings INTERFACE _FORTIFY_SOURCE=2)
endif()
