from elinkctl.cli import main

main()
