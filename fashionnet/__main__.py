from fashionnet.cli import main

main()
