from fairaudit.cli import main

main()
