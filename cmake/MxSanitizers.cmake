if(MX_SANITIZE)
  add_compile_options(-fsanitize=${MX_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${MX_SANITIZE})
endif()
