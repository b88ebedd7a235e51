from scepsy_opt.cli import main

main()
