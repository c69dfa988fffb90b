fn main() {
    appointments_spa::start();
}
