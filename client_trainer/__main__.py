from client_trainer.cli import main

main()
