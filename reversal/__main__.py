from reversal.cli import main

main()
