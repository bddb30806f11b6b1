from golive.entry import main

main()
