SELECT bench_book_one();
