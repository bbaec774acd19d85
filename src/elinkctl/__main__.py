from elinkctl.entry import main

main()
